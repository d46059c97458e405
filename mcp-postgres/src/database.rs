//! One database the connector serves: its pool and what the configuration says of it.
//! Kept apart from the list of databases so that a call's transaction can name the database
//! it runs on without depending on how databases are picked.

use std::time::{Duration, Instant};

use mcp_core::connector::Target;
use sqlx::Connection;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool, Postgres};

/// How long a connection may take from the pool before the connector checks, with a
/// connection of its own, whether the database can be reached at all.
const DIAGNOSE_AFTER: Duration = Duration::from_millis(250);
/// How long a diagnosis that connected stands for the other waiters.
const REACHABLE_FOR: Duration = Duration::from_secs(1);

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
    /// One diagnosis at a time: under a real overload, waiters must not add connections.
    pub diagnosing: tokio::sync::Mutex<()>,
    /// When a diagnosis last connected: the database was reachable, only busy.
    pub reachable_at: std::sync::Mutex<Option<Instant>>,
    /// Set by the first call that asks for a connection: what the server does by itself
    /// (the role check, the schema watch) waits for it, so that start connects nowhere.
    pub used: tokio::sync::watch::Sender<bool>,
}

impl Database {
    /// Returns once a call has asked this database for a connection.
    pub async fn first_used(&self) {
        let _ = self.used.subscribe().wait_for(|used| *used).await;
    }

    /// A connection from the pool. The pool retries a refused or reset connection until
    /// its acquire timeout and then says only that it timed out; so when the wait lasts,
    /// a direct connection attempt finds the cause (refused, unknown host, TLS), which is
    /// returned at once. If that attempt connects, the database is only busy: the pool's
    /// wait goes on, and for a second no other waiter probes again.
    pub async fn acquire(&self) -> Result<PoolConnection<Postgres>, sqlx::Error> {
        self.used.send_if_modified(|used| !std::mem::replace(used, true));
        let acquire = self.pool.acquire();
        tokio::pin!(acquire);
        tokio::select! {
            biased;
            conn = &mut acquire => return conn,
            _ = tokio::time::sleep(DIAGNOSE_AFTER) => {}
        }
        let diagnose = async {
            // Waiters take turns, so that a busy database gets one probe, not one each.
            let _turn = self.diagnosing.lock().await;
            if self.reachable_at.lock().map(|at| at.is_some_and(|t| t.elapsed() < REACHABLE_FOR)).unwrap_or(false) {
                return None;
            }
            match PgConnection::connect_with(&self.pool.connect_options()).await {
                Err(e) if is_unreachable(&e) => Some(e),
                Ok(conn) => {
                    if let Ok(mut at) = self.reachable_at.lock() {
                        *at = Some(Instant::now());
                    }
                    let _ = conn.close().await;
                    None
                }
                Err(_) => None,
            }
        };
        tokio::select! {
            biased;
            conn = &mut acquire => return conn,
            found = diagnose => if let Some(e) = found {
                return Err(e);
            },
        }
        acquire.await
    }

    /// Where the database is reached (`host:port`, or the socket directory), for errors.
    pub fn address(&self) -> String {
        let options = self.pool.connect_options();
        format!("{}:{}", options.get_host(), options.get_port())
    }
}

/// The causes the pool hides behind its timeout.
fn is_unreachable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Configuration(_))
}

impl Target for Database {
    fn name(&self) -> &str {
        &self.name
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
}
