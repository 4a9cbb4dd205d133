pub mod aggregate;
pub mod import;
pub mod query;
pub mod store;
