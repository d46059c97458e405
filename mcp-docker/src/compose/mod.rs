//! A Compose file read into the model the compose tools run: the Compose Specification's
//! services (image, command, entrypoint, environment, env_file, ports, volumes, networks,
//! network_mode, depends_on with conditions, healthcheck, restart, labels, user,
//! working_dir, profiles, ...), top-level networks and volumes, the project name, with
//! variables interpolated. Keys this server does not implement are errors, never ignored:
//! an ignored `devices` or `security_opt` would run something other than what was asked.
//! `raw` is the file as written, `model` the resolved project, `load` goes from one to
//! the other.

mod load;
mod model;
mod raw;
pub mod vars;
mod words;

pub use load::{Source, load};
pub use model::*;
