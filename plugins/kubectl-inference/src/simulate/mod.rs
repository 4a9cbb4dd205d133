//! `simulate`: the extension's published benchmark replayed offline, a
//! discrete-event simulation of vLLM-like servers behind a router (issue
//! 14). So far: the server step model ([`server`]). The routers will be the
//! [`crate::picker`] that `explain` replays, not a copy of it.

pub mod load;
pub mod random;
pub mod router;
pub mod run;
pub mod server;
