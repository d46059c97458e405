//! The connector's own settings: which databases, how much a call may read, and what it
//! may change. Unknown flags and unknown keys in the databases file are errors: a
//! misspelt safety setting must stop the server, never be silently ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mcp_core::connector::{check_target_names, read_toml};
use mcp_core::security::redact::redact_text;
use serde::Deserialize;

/// What `execute` may run when writes are enabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    /// INSERT, UPDATE, DELETE, MERGE only.
    Dml,
    /// DML and DDL (CREATE, ALTER, DROP, ...).
    All,
}

/// The flags of `mcp-postgres`, besides the ones every connector shares.
#[derive(Debug, Clone, clap::Args)]
pub struct PgArgs {
    /// The database to serve, as a URL (named `default`). libpq's PG* variables
    /// (PGHOST, PGUSER, ...) fill in whatever the URL leaves out.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// A named database, `NAME=URL`; repeat for several. Tools take `database: NAME`.
    #[arg(long = "database", value_name = "NAME=URL")]
    pub databases: Vec<String>,
    /// A TOML file of named databases, each with `url`, `description`, `read_only`.
    #[arg(long, env = "MCP_POSTGRES_DATABASES_FILE")]
    pub databases_file: Option<PathBuf>,
    /// Enables the write tool (`execute`); without it the connector never changes data.
    #[arg(long, env = "MCP_POSTGRES_ALLOW_WRITE")]
    pub allow_write: bool,
    /// What `execute` may run: `dml` (INSERT/UPDATE/DELETE/MERGE) or `all` (also DDL).
    #[arg(long, env = "MCP_POSTGRES_WRITE_MODE", value_enum, default_value = "dml")]
    pub write_mode: WriteMode,
    /// Connections per database.
    #[arg(long, env = "MCP_POSTGRES_POOL_SIZE", default_value_t = 5)]
    pub pool_size: u32,
    /// Longest a statement may run on the server, in milliseconds.
    #[arg(long, env = "MCP_POSTGRES_STATEMENT_TIMEOUT_MS", default_value_t = 30_000)]
    pub statement_timeout_ms: u64,
    /// Longest to wait for a connection, in seconds.
    #[arg(long, env = "MCP_POSTGRES_CONNECT_TIMEOUT_SECS", default_value_t = 5)]
    pub connect_timeout_secs: u64,
    /// Most rows one `query` returns (the rest is reachable with `offset`).
    #[arg(long, env = "MCP_POSTGRES_MAX_ROWS", default_value_t = 500)]
    pub max_rows: usize,
    /// Most bytes of rows one `query` returns.
    #[arg(long, env = "MCP_POSTGRES_MAX_RESULT_BYTES", default_value_t = 128 * 1024)]
    pub max_result_bytes: usize,
    /// Functions that read or change the server outside the database (pg_read_file,
    /// dblink, pg_terminate_backend, ...) are refused; these names are let through.
    #[arg(long = "allow-function", env = "MCP_POSTGRES_ALLOW_FUNCTIONS", value_delimiter = ',')]
    pub allow_functions: Vec<String>,
    /// The directory `export` writes files into (export is off without it).
    #[arg(long, env = "MCP_POSTGRES_EXPORT_DIR")]
    pub export_dir: Option<PathBuf>,
    /// How often to look for created or dropped tables, to tell clients their table
    /// resources changed, in seconds (0: never).
    #[arg(long, env = "MCP_POSTGRES_SCHEMA_POLL_SECS", default_value_t = 30)]
    pub schema_poll_secs: u64,
    /// The role every call acts as (`SET LOCAL ROLE` in each call's transaction), so that
    /// the database's own grants bound what the connector can read and change. The
    /// login role must be a member of it. A policy file can name one per client.
    #[arg(long, env = "MCP_POSTGRES_ROLE")]
    pub role: Option<String>,
    /// Only the tools of these groups (comma-separated; default: all): explore, sql,
    /// operations, performance, and the toolsets of the tools file (default `custom`).
    #[arg(long, env = "MCP_POSTGRES_TOOLSETS", value_delimiter = ',')]
    pub toolsets: Vec<String>,
    /// A TOML file of tools the operator defines: named, parameterized statements (see
    /// the README). Read again on SIGHUP.
    #[arg(long, env = "MCP_POSTGRES_TOOLS_FILE")]
    pub tools_file: Option<PathBuf>,
}

/// One database as the file describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseEntry {
    /// Its connection URL.
    pub url: String,
    /// What it holds, shown to the model.
    pub description: Option<String>,
    /// Never written to, even with `--allow-write`.
    #[serde(default)]
    pub read_only: bool,
    /// The role calls act as on this database (overrides `--role`).
    pub role: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabasesFile {
    databases: BTreeMap<String, DatabaseEntry>,
}

/// Everything the connector needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Databases by name, in a stable order; the first is the default.
    pub databases: Vec<(String, DatabaseEntry)>,
    pub allow_write: bool,
    pub write_mode: WriteMode,
    pub pool_size: u32,
    pub statement_timeout: Duration,
    pub connect_timeout: Duration,
    pub max_rows: usize,
    pub max_result_bytes: usize,
    pub allow_functions: Vec<String>,
    pub export_dir: Option<PathBuf>,
    pub role: Option<String>,
    /// Empty: every toolset.
    pub toolsets: Vec<String>,
    pub tools_file: Option<PathBuf>,
}

impl PgArgs {
    /// Checks the flags and reads the databases file.
    pub fn settings(&self) -> Result<Settings, String> {
        let mut databases: Vec<(String, DatabaseEntry)> = Vec::new();
        if let Some(url) = &self.database_url {
            databases.push((
                "default".into(),
                DatabaseEntry { url: url.clone(), description: None, read_only: false, role: None },
            ));
        }
        for spec in &self.databases {
            let Some((name, url)) = spec.split_once('=') else {
                return Err(format!("--database expects NAME=URL, got `{}`", redact_text(spec)));
            };
            databases.push((
                name.trim().into(),
                DatabaseEntry { url: url.trim().into(), description: None, read_only: false, role: None },
            ));
        }
        if let Some(path) = &self.databases_file {
            databases.extend(read_databases_file(path)?);
        }
        check_target_names("database", databases.iter().map(|(name, _)| name.as_str()))?;
        if databases.is_empty() {
            // libpq's defaults: PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD.
            if std::env::vars().any(|(k, _)| k.starts_with("PG")) {
                databases.push((
                    "default".into(),
                    DatabaseEntry { url: String::new(), description: None, read_only: false, role: None },
                ));
            } else {
                return Err("no database: give --database-url (or DATABASE_URL), --database NAME=URL, \
                            --databases-file, or libpq's PG* variables"
                    .into());
            }
        }
        if self.pool_size == 0 {
            return Err("--pool-size must be at least 1".into());
        }
        if self.max_rows == 0 || self.max_result_bytes < 1024 {
            return Err("--max-rows must be at least 1 and --max-result-bytes at least 1024".into());
        }
        if let Some(dir) = &self.export_dir
            && !dir.is_dir()
        {
            return Err(format!("--export-dir {}: not a directory", dir.display()));
        }
        Ok(Settings {
            databases,
            allow_write: self.allow_write,
            write_mode: self.write_mode,
            pool_size: self.pool_size,
            statement_timeout: Duration::from_millis(self.statement_timeout_ms.max(1)),
            connect_timeout: Duration::from_secs(self.connect_timeout_secs.max(1)),
            max_rows: self.max_rows,
            max_result_bytes: self.max_result_bytes,
            allow_functions: self.allow_functions.iter().map(|f| f.trim().to_ascii_lowercase()).collect(),
            export_dir: self.export_dir.clone(),
            role: self.role.clone().filter(|r| !r.trim().is_empty()),
            toolsets: self.toolsets.iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect(),
            tools_file: self.tools_file.clone(),
        })
    }
}

fn read_databases_file(path: &Path) -> Result<BTreeMap<String, DatabaseEntry>, String> {
    Ok(read_toml::<DatabasesFile>(path, "--databases-file")?.databases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            postgres: PgArgs,
        }
        // A spec without `=` is refused with the spec in the message, its password redacted.
        for (spec, shown) in [
            ("postgres://u:s3cret@h:5432/db", "postgres://u:[REDACTED]@h:5432/db"),
            ("prod postgres://:s3cret@h/db", "prod postgres://:[REDACTED]@h/db"),
        ] {
            let cli = <Cli as clap::Parser>::try_parse_from(["mcp-postgres", "--database", spec]).expect("flags");
            let err = cli.postgres.settings().expect_err("not NAME=URL");
            assert!(err.contains(shown) && !err.contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn unknown_keys_in_the_databases_file_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dbs.toml");
        std::fs::write(&path, "[databases.prod]\nurl = \"postgres://h/db\"\nread_onyl = true\n").expect("write");
        let err = read_databases_file(&path).expect_err("typo must fail");
        assert!(err.contains("read_onyl"), "{err}");
    }
}
