//! Serving safely, for every connector at once: who the client is ([`auth`]), what it may
//! do ([`policy`]), a tamper-evident record of what it did ([`audit`]), and the one way
//! secrets are kept out of what is written or shown ([`redact`]).

pub mod audit;
pub mod auth;
mod identity;
pub mod policy;
pub mod redact;

pub use audit::{AuditKey, AuditLog};
pub use auth::Authenticator;
pub use identity::Identity;
pub use policy::Policy;
