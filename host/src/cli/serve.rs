//! `ferry serve`: run the syncs on their schedules and answer the HTTP API and status page.

use std::net::SocketAddr;
use std::path::Path;

use clap::Args;

use super::exit::{self, CliError};
use super::run::load_config;
use crate::service::{self, ServiceError};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Listen here instead of `[service] listen` (e.g. 127.0.0.1:0 for any free port).
    #[arg(long, value_name = "ADDRESS")]
    listen: Option<SocketAddr>,
}

pub fn serve(args: ServeArgs, config_path: Option<&Path>, json: bool) -> Result<u8, CliError> {
    let config = load_config(config_path)?;
    service::serve(config, args.listen, json).map_err(|error| match error {
        ServiceError::Config(e) => CliError::Config(e),
        ServiceError::Session(e) => CliError::from(e),
        ServiceError::State(e) => CliError::State(e),
        ServiceError::Token(why) => CliError::Usage(why),
        error @ (ServiceError::Listen { .. }
        | ServiceError::Alerts(_)
        | ServiceError::Signals(_)) => CliError::Io(error.to_string()),
    })?;
    Ok(exit::OK)
}
