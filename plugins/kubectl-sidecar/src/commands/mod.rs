pub mod analyze;
pub mod fix;
pub mod live;
