pub mod analyze;
pub mod fix;
