//! The audit trail: one JSON line per request, on every transport, each carrying the
//! SHA-256 of the line before it (its HMAC-SHA256 under an [`AuditKey`], for a keyed
//! trail), the first [`GENESIS`], so that editing, deleting or inserting a line, or
//! removing the first ones, breaks the chain ([`verify_with`] finds the first broken line;
//! `mcp audit verify FILE` runs it). What the chain cannot show alone, the end of the trail
//! cut off, is shown against a head recorded elsewhere ([`Expected`]); what it cannot show
//! without a key, a trail rewritten whole, a keyed trail shows.
//!
//! Lines are written by a dedicated thread, so a request does not wait on the disk (unless
//! the disk falls `QUEUE_AT_MOST` (32 MiB) bytes behind: requests then wait, and no line is lost):
//! to a file opened for append (flushed and fsync'd whenever the queue runs empty, which
//! batches the syncs under load) or to stderr. Arguments are redacted first ([`redact`](crate::security::redact)):
//! any field whose name looks secret, any field the connector declared sensitive, and
//! secrets inside string values (URL passwords, bearer tokens, ...).

mod chain;
mod json;
mod line;
mod log;
#[cfg(test)]
mod tests;
mod verify;
mod writer;

pub use chain::{AuditKey, GENESIS};
pub use line::{AuditEnd, AuditRecord, AuditStart, LineHead};
pub use log::{AuditLog, HeldLines, OpenLine};
pub use verify::{ChainBreak, Expected, Verified, verify, verify_with};
