//! One module per subcommand: flags, input, and output; the work is in the library.

pub mod attach;
pub mod auto;
pub mod cluster;
pub mod discover;
pub mod features;
pub mod image;
pub mod init;
pub mod input;
pub mod lint;
pub mod validate;
