//! Talking to OCI registries about images and their compatibility artifacts.

pub mod reference;
