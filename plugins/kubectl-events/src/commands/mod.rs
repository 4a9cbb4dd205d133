pub mod aggregate;
pub mod collect;
pub mod import;
pub mod layout;
pub mod objects;
pub mod prune;
pub mod query;
pub mod store;
