//! `kplug_sidecar`: the domain logic of `kubectl sidecar`, free of I/O.
//! Containers and templates are read from JSON ([`container`],
//! [`template`]); [`validation`] reproduces the API server's rules;
//! [`analysis`] decides who waits for whom; [`report`] renders the result.

pub mod analysis;
pub mod container;
pub mod derive;
pub mod fix;
pub mod known;
pub mod report;
pub mod template;
pub mod timeline;
pub mod validation;
