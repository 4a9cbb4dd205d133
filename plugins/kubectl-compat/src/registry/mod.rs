//! Talking to OCI registries about images and their compatibility artifacts.

pub mod artifact;
mod auth;
pub mod cache;
pub mod client;
pub mod credentials;
mod delete;
pub mod errors;
mod push;
pub mod read;
pub mod reference;
pub mod roots;
mod wire;
