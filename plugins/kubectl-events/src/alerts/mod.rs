//! Alerts with hygiene: rules that turn incidents (and Events no incident
//! explains) into one alert per group — an incident by default, so its
//! effects never page on their own — sustained before they fire, resolved
//! when the Events stop, held back by a cooldown; and the notifications
//! they cause, shaped for Alertmanager, a signed webhook, Slack or stdout.
//! Decided without I/O: the collector's tracker feeds it and keeps its
//! state and outbox in the store; the binary delivers.

pub mod config;
pub mod evaluate;
pub mod notify;

pub use config::{AlertRule, Config, GroupKey, Match, Secret, Sink, SinkKind};
pub use evaluate::{AlertState, Book, Episode, Notice, Status, episodes};
