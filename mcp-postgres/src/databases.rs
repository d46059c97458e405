//! The configured databases: one lazily connected pool each, picked per call by name.
//! No "current database" is kept between calls, so any call can go to any replica.

use std::str::FromStr;
use std::sync::Arc;

use futures::future::BoxFuture;
use mcp_core::connector::Targets;
use mcp_core::{Context, ToolError};
use sqlx::ConnectOptions as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::{Settings, WriteMode};
use crate::guard::FunctionGuard;
use crate::transaction::{Access, Tx};

pub use crate::database::Database;
use mcp_core::security::redact::redact_text;

/// The role calls act as, its powers beyond the guards (superuser, the server-files
/// roles) and how grave they are: `(role, powers, severity)`. Start-up's warning and
/// `database_health`'s `role_privileges` check read it.
pub const ROLE_POWERS: &str = "SELECT current_user::text AS role, powers,
        CASE WHEN 'superuser' = ANY(powers) OR 'pg_execute_server_program' = ANY(powers) THEN 'critical'
             WHEN cardinality(powers) > 0 THEN 'warning' ELSE 'ok' END AS severity
 FROM (SELECT array_remove(ARRAY[
                CASE WHEN rolsuper THEN 'superuser' END,
                CASE WHEN pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER')
                     THEN 'pg_execute_server_program' END,
                CASE WHEN pg_has_role(current_user, 'pg_read_server_files', 'MEMBER')
                     THEN 'pg_read_server_files' END,
                CASE WHEN pg_has_role(current_user, 'pg_write_server_files', 'MEMBER')
                     THEN 'pg_write_server_files' END], NULL)::text[] AS powers
       FROM pg_roles WHERE rolname = current_user) r";

/// How long a pooled connection may sit idle before it is tested when taken again.
const IDLE_BEFORE_PING: std::time::Duration = std::time::Duration::from_secs(10);

/// Every database, plus the settings tools read.
#[derive(Debug)]
pub struct Databases {
    /// Named by tools' `database` argument: reads default to the first, writes must name
    /// one when several are configured.
    targets: Targets<Database>,
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
                    .map_err(|e| format!("database `{name}` ({}): {e}", redact_text(&entry.url)))?
            };
            // sqlx logs slow statements' text at WARN: user SQL may carry secrets (a
            // password in ALTER ROLE, a token in a row). Slow calls show in the audit trail.
            let options = options
                .application_name("mcp-postgres")
                .disable_statement_logging()
                .statement_cache_capacity(crate::transaction::STATEMENT_CACHE);
            let pool = PgPoolOptions::new()
                .max_connections(settings.pool_size)
                .acquire_timeout(settings.connect_timeout)
                // Not a ping (a round trip) on every acquire: a connection a cancelled call
                // left mid-query is closed by the call (transaction/), the pool pings every
                // connection it gets back, and a transaction's begin replaces a connection
                // that died while idle. Only one idle for long is tested first.
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for > IDLE_BEFORE_PING {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect_lazy_with(options);
            list.push(Database {
                name: name.clone(),
                description: entry.description.clone(),
                read_only: entry.read_only,
                role: entry.role.clone().or_else(|| settings.role.clone()),
                pool,
                diagnosing: Default::default(),
                reachable_at: Default::default(),
                used: tokio::sync::watch::Sender::new(false),
                warm: Default::default(),
                verdicts: Default::default(),
            });
        }
        let targets = Targets::new("database", list, settings.allow_write)?;
        let guard = FunctionGuard::new(&settings.allow_functions);
        Ok(Self { targets, settings, guard })
    }

    /// The database a reading call names, or the first one.
    pub fn for_read(&self, name: Option<&str>) -> Result<Arc<Database>, ToolError> {
        self.targets.for_read(name)
    }

    /// The database a writing call names, and what it may run there: writes must be
    /// enabled, the database named when several are configured, and not read-only.
    pub fn for_write(&self, name: Option<&str>) -> Result<(Arc<Database>, WriteMode), ToolError> {
        Ok((self.targets.for_write(name)?, self.settings.write_mode))
    }

    pub fn all(&self) -> &[Arc<Database>] {
        self.targets.all()
    }

    pub fn names(&self) -> Vec<&str> {
        self.targets.names()
    }

    /// The lines of the instructions that list the databases.
    pub fn describe(&self) -> String {
        self.targets.describe(|db| match &db.description {
            Some(d) => format!("{}: {d}", db.name),
            None => db.name.clone(),
        })
    }

    /// Begins a call's transaction on `db`, as the role the access policy gives the
    /// client (`role = ["NAME"]` in its scopes), else the database's configured role.
    pub fn begin(
        &self,
        ctx: &Context,
        db: &Arc<Database>,
        access: Access,
    ) -> BoxFuture<'static, Result<Tx, ToolError>> {
        let role = match ctx.policy_scope("role").as_deref() {
            None => Ok(db.role.clone()),
            Some([role]) if !role.is_empty() => Ok(Some(role.clone())),
            Some(other) => Err(ToolError::failed(format!(
                "the access policy's `role` scope must name exactly one role, got {other:?}"
            ))),
        };
        match role {
            Ok(role) => Tx::begin(db, access, self.settings.statement_timeout, role.as_deref()),
            Err(e) => Box::pin(async move { Err(e) }),
        }
    }

    /// Says on stderr, once each database is first used, when the role calls act as can
    /// reach past the guards (superuser, or the server-files roles), and how to avoid it.
    pub fn warn_if_privileged(self: &Arc<Self>) {
        for db in self.all().to_vec() {
            tokio::spawn(async move {
                db.first_used().await;
                let sql = ROLE_POWERS;
                let mut conn = match db.acquire().await {
                    Ok(conn) => conn,
                    Err(_) => return, // Reported by the calls and /readyz.
                };
                if let Some(role) = &db.role
                    && sqlx::Executor::execute(
                        &mut *conn,
                        sqlx::raw_sql(&format!("SET ROLE {}", crate::ident::quote_ident(role))),
                    )
                    .await
                    .is_err()
                {
                    conn.close_on_drop();
                    return;
                }
                let row: Result<(String, Vec<String>, String), _> = sqlx::query_as(sql).fetch_one(&mut *conn).await;
                let _ = sqlx::Executor::execute(&mut *conn, sqlx::raw_sql("RESET ROLE")).await;
                if let Ok((role, powers, _)) = row
                    && !powers.is_empty()
                {
                    let powers = powers.join(", ");
                    tracing::warn!(
                        database = %db.name,
                        role = %role,
                        powers = %powers,
                        "the connector acts as a role with powers beyond its guards; least privilege is the real \
                         boundary: create a role with only the grants it needs (e.g. GRANT pg_read_all_data) and \
                         start with --role NAME, or connect as it (database_health's role_privileges check says more)"
                    );
                }
            });
        }
    }

    /// Checks that every database answers; the error names the first that does not.
    pub async fn ping(&self) -> Result<(), String> {
        for db in self.all() {
            let answer = async { sqlx::query("SELECT 1").execute(&mut *db.acquire().await?).await };
            answer.await.map_err(|e| format!("database `{}`: {}", db.name, crate::errors::describe(&e)))?;
        }
        Ok(())
    }
}
