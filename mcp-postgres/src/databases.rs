//! The configured databases: one lazily connected pool each, picked per call by name.
//! No "current database" is kept between calls, so any call can go to any replica.

use std::str::FromStr;
use std::sync::Arc;

use mcp_core::ToolError;
use sqlx::ConnectOptions as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::config::{Settings, WriteMode, redact_url};
use crate::guard::FunctionGuard;

/// One database the connector serves.
#[derive(Debug)]
pub struct Database {
    pub name: String,
    pub description: Option<String>,
    /// Writes refused here whatever the flags say.
    pub read_only: bool,
    pub pool: PgPool,
}

/// Every database, plus the settings tools read.
#[derive(Debug)]
pub struct Databases {
    list: Vec<Arc<Database>>,
    pub settings: Settings,
    pub guard: FunctionGuard,
}

impl Databases {
    /// Builds a pool per database. Nothing connects yet: a database that is down at start
    /// is reported by `/readyz` and by the calls that need it, and used once it is back.
    pub fn open(settings: Settings) -> Result<Self, String> {
        let mut list = Vec::new();
        for (name, entry) in &settings.databases {
            let options = if entry.url.is_empty() {
                PgConnectOptions::new()
            } else {
                PgConnectOptions::from_str(&entry.url)
                    .map_err(|e| format!("database `{name}` ({}): {e}", redact_url(&entry.url)))?
            };
            // sqlx logs slow statements' text at WARN: user SQL may carry secrets (a
            // password in ALTER ROLE, a token in a row). Slow calls show in the audit trail.
            let options = options.application_name("mcp-postgres").disable_statement_logging();
            let pool = PgPoolOptions::new()
                .max_connections(settings.pool_size)
                .acquire_timeout(settings.connect_timeout)
                // A connection a cancelled call left mid-query is checked before reuse.
                .test_before_acquire(true)
                .connect_lazy_with(options);
            list.push(Arc::new(Database {
                name: name.clone(),
                description: entry.description.clone(),
                read_only: entry.read_only,
                pool,
            }));
        }
        let guard = FunctionGuard::new(&settings.allow_functions);
        Ok(Self { list, settings, guard })
    }

    /// The database a call names, or the first one.
    pub fn get(&self, name: Option<&str>) -> Result<Arc<Database>, ToolError> {
        match name {
            None => Ok(self.list[0].clone()),
            Some(name) => self.list.iter().find(|d| d.name == name).cloned().ok_or_else(|| {
                ToolError::invalid_arguments(format!(
                    "`database`: no database named `{name}`; configured: {}",
                    self.names().join(", ")
                ))
            }),
        }
    }

    pub fn all(&self) -> &[Arc<Database>] {
        &self.list
    }

    pub fn names(&self) -> Vec<String> {
        self.list.iter().map(|d| d.name.clone()).collect()
    }

    /// Whether `execute` may run on `db`, and with which statements.
    pub fn write_mode(&self, db: &Database) -> Result<WriteMode, ToolError> {
        if !self.settings.allow_write {
            return Err(ToolError::failed("writes are disabled: the server was started without --allow-write"));
        }
        if db.read_only {
            return Err(ToolError::failed(format!("database `{}` is configured read-only", db.name)));
        }
        Ok(self.settings.write_mode)
    }

    /// Checks that every database answers; the error names the first that does not.
    pub async fn ping(&self) -> Result<(), String> {
        for db in &self.list {
            sqlx::query("SELECT 1")
                .execute(&db.pool)
                .await
                .map_err(|e| format!("database `{}`: {}", db.name, crate::errors::describe(&e)))?;
        }
        Ok(())
    }
}
