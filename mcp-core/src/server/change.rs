//! What changes on a server that its clients may want to hear about.

/// A change clients may want to hear about.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The tool list changed.
    Tools,
    /// The prompt list changed.
    Prompts,
    /// The resource list changed.
    Resources,
    /// The resource at this URI changed.
    ResourceUpdated(String),
}
