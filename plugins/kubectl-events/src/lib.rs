//! `kplug_eventlog`: the domain logic of `kubectl eventlog` — classifying
//! Events ([`classify`]), templating and fingerprinting them ([`template`]),
//! the occurrence ledger that makes ingestion lossless and duplicate-free
//! ([`ledger`]) and the stores ([`store`]).

pub mod aggregate;
pub mod alerts;
pub mod backoff;
pub mod classify;
pub mod collect;
pub mod health;
pub mod incidents;
pub mod input;
pub mod lease;
pub mod ledger;
pub mod patterns;
pub mod record;
pub mod report;
pub mod store;
pub mod template;
pub mod track;
