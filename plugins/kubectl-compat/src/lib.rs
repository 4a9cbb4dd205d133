//! `kubectl compat`: Node Feature Discovery's image-compatibility check,
//! reproduced exactly and extended. Domain logic (spec, engine, validation,
//! lint, init) is free of I/O; `sources` reads the host; `report` renders.

pub mod catalogue;
pub mod cluster;
pub mod engine;
pub mod features;
pub mod gojson;
pub mod goyaml;
pub mod init;
pub mod lint;
pub mod registry;
pub mod report;
pub mod sources;
pub mod spec;
pub mod time;
pub mod validate;
pub mod yaml;

#[cfg(test)]
mod mutation_tests;
