//! `simulate`: the extension's published benchmark replayed offline, a
//! discrete-event simulation of vLLM-like servers behind a router (issue
//! 14): servers ([`server`]), load ([`load`]), routers ([`router`], the
//! very [`crate::picker`] that `explain` replays) and the event loop ([`run`]).

pub mod figure;
pub mod load;
pub mod profile;
pub mod random;
pub mod router;
pub mod run;
pub mod server;
pub mod target;
pub mod trace;
