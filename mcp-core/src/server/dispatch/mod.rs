//! Method routing for both eras: decide the era of each request, validate its envelope,
//! run the handler under the server's limits, and shape the result for the era.

mod answer;
mod envelope;
mod handlers;
mod lifecycle;
mod pages;
mod prompts;
mod resources;
mod subscriptions;
mod tools;

pub(crate) use envelope::{stateless_meta, unsupported_version};
