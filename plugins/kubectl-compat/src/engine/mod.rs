//! Rule evaluation: NFD's exact semantics (`expr`, `rule`, `template`,
//! `version`) and the per-expression explanation NFD does not give (`explain`).

pub mod explain;
pub mod expr;
pub mod rule;
pub mod template;
pub mod version;
