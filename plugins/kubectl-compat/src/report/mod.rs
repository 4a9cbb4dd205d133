//! Rendering validation reports: the human report, and NFD's JSON.

pub mod human;
pub mod nfd;
