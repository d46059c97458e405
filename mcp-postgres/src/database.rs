//! One database the connector serves: its pool and what the configuration says of it.
//! Kept apart from the list of databases so that a call's transaction can name the database
//! it runs on without depending on how databases are picked.

use mcp_core::connector::Target;
use sqlx::postgres::PgPool;

/// One database the connector serves.
#[derive(Debug)]
pub struct Database {
    pub name: String,
    pub description: Option<String>,
    /// Writes refused here whatever the flags say.
    pub read_only: bool,
    /// The role every call acts as here, unless the access policy names one per client.
    pub role: Option<String>,
    pub pool: PgPool,
}

impl Target for Database {
    fn name(&self) -> &str {
        &self.name
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
}
