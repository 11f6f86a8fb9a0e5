//! ferry keeps folders in sync with remote servers. What differs from one server to the
//! next lives in sandboxed WebAssembly policy plugins ([`plugin`]); the command line is
//! a thin layer over the library modules ([`cli`]).
pub mod bounded;
pub mod cli;
pub mod config;
pub mod plugin;
pub mod remote;
pub mod serde_names;
pub mod service;
pub mod session;
pub mod state;
pub mod sync;
pub mod text;
pub mod toml_reader;
