pub mod explain;
pub mod version;
