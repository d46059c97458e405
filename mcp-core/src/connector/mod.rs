//! The connector kit: what every connector needs besides its own tools, written once.
//!
//! - [`args`]: [`tool_args!`](crate::tool_args), argument structs whose first member names
//!   the call's target.
//! - [`targets`]: several named backends (databases, daemons, clusters, instances), one
//!   chosen per call, with one rule for reads and one for writes.
//! - [`selection`]: which tools a server lists, from each tool's own annotations (tier)
//!   and toolset tag, the same way in every connector.
//! - [`bounded`]: cut results (pages of rows, text, JSON) with one wording for "cut here,
//!   this is how to get the rest", and the sizes they are measured by.
//! - [`config`]: strict TOML files (unknown keys are errors), target names, secrets read
//!   from files and the environment.
//! - [`serve`]: the whole `main` of a connector binary but its flags.
//! - [`uri`]: names as resource URI segments (percent-encoded).
//! - [`trim`]: a backend's JSON document rewritten for a model in one pass over its bytes
//!   (empty members pruned, env secrets redacted), sent as it is.
//!
//! Redaction is [`crate::security::redact`] (shared with the audit trail); rendering is
//! [`crate::output`]; typed errors are [`crate::ToolError`] and its [`ErrorKind`](crate::server::ErrorKind).

pub mod args;
pub mod bounded;
pub mod config;
pub mod selection;
pub mod serve;
pub mod targets;
pub mod trim;
pub mod uri;

pub use bounded::{Next, Page, cut_note, cut_text, fit_json, page};
pub use config::{Secret, check_target_names, read_toml, valid_name};
pub use selection::{Tier, ToolSelection};
pub use serve::{Connector, run, serve};
pub use targets::{Target, Targets};
pub use trim::{Trim, trimmed};
