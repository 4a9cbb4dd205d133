pub mod analyze;
pub mod explain;
pub mod fix;
pub mod live;
mod stream;
