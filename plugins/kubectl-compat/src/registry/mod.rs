//! Talking to OCI registries about images and their compatibility artifacts.

pub mod artifact;
pub mod client;
pub mod credentials;
pub mod reference;
