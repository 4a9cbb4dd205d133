//! What users see: kubectl-style tables, `-o json|yaml|name`, ages, colour and
//! progress bars. Data goes to stdout; progress and diagnostics to stderr.

pub mod age;
pub mod color;
pub mod escape;
pub mod format;
pub mod progress;
pub mod table;

pub use age::{age_since, exact_duration, human_duration};
pub use color::{Palette, color_enabled};
pub use escape::{Escaped, escape, escape_lines};
pub use format::{Printer, object_name};
pub use progress::progress_bar;
pub use table::{Cell, Table};
