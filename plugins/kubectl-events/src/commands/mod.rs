pub mod aggregate;
pub mod collect;
pub mod import;
pub mod query;
pub mod store;
