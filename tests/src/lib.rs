//! Packaging and end-to-end support for kplug: krew manifest rendering and
//! validation, release archives (`make dist`). Never published.

pub mod archive;
pub mod corpus;
pub mod e2e;
pub mod image;
pub mod krew;
