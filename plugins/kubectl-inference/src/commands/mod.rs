pub mod cluster;
pub mod explain;
pub mod get;
pub mod status;
pub mod version;
