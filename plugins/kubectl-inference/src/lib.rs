//! `kplug_inference`: the domain logic of `kubectl inference` — what the
//! Gateway API Inference Extension's endpoint picker (EPP) knows of a model
//! server ([`metrics`]) and how it decides where a request goes
//! ([`picker`]). The picker is the one piece `explain` (replaying a live
//! decision) and `simulate` (routing a simulated load) share, so both
//! follow the same arithmetic as the reference EPP, GIE v1.5.0.

pub mod apis;
pub mod config;
pub mod doctor;
pub mod engine;
pub mod epp;
pub mod exposition;
pub mod metrics;
pub mod migrate;
pub mod objects;
pub mod picker;
pub mod simulate;
