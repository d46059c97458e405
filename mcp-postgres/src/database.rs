//! One database the connector serves: its pool and what the configuration says of it.
//! Kept apart from the list of databases so that a call's transaction can name the database
//! it runs on without depending on how databases are picked.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use mcp_core::connector::Target;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool, Postgres};
use sqlx::{Connection, Executor as _};

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
    /// A connection kept inside a fresh read-only transaction for the next read.
    pub warm: WarmSlot,
    /// Reads whose plan passed the check, reused while nothing commits.
    pub verdicts: crate::guard::verdicts::Verdicts,
}

/// A connection whose read-only transaction has begun already: the set-up of a read's
/// transaction is sent after the previous read answered, off the next call's path.
#[derive(Debug)]
pub struct Warm {
    pub conn: PoolConnection<Postgres>,
    /// The server process running the connection.
    pub pid: i32,
    /// What its begin message read of the session.
    pub begun: crate::transaction::Begun,
    /// The role and statement timeout its transaction was begun with.
    pub role: Option<String>,
    pub timeout: Duration,
}

/// At most one warm connection per database, for at most [`WarmSlot::HOLD`]: a warm
/// connection is out of the pool, so it is handed back as soon as anyone else waits for
/// one, and the server does not show an idle transaction for long.
#[derive(Debug, Default)]
pub struct WarmSlot {
    state: Mutex<Slot>,
    /// Wakes the reads waiting for a connection being warmed.
    settled: Notify,
    /// Bumped at each `put`, so that an expiry ends only the connection it was set for.
    generation: AtomicU64,
    /// Callers inside [`Database::acquire`].
    waiting: AtomicUsize,
}

#[derive(Debug, Default)]
enum Slot {
    #[default]
    Empty,
    /// A read just ended: its connection is beginning the next read's transaction.
    Warming,
    Ready(Warm, u64),
}

impl WarmSlot {
    /// How long a warm connection waits for the next read: long enough for a client's
    /// burst of calls, short enough that `now()` (the transaction's start) stays close
    /// to the call and the server shows no lasting idle transaction.
    pub const HOLD: Duration = Duration::from_millis(250);

    /// Claims the slot for a read that just ended, when it is free and no one waits for
    /// a connection from the pool. The claimant then calls `put` or `abandon`.
    pub fn start_warming(&self) -> bool {
        let Ok(mut state) = self.state.lock() else { return false };
        if self.waiting.load(Ordering::SeqCst) > 0 || !matches!(*state, Slot::Empty) {
            return false;
        }
        *state = Slot::Warming;
        true
    }

    /// The warming failed: the slot is free again.
    pub fn abandon(&self) {
        if let Ok(mut state) = self.state.lock() {
            *state = Slot::Empty;
        }
        self.settled.notify_waiters();
    }

    /// Keeps `warm` for the next read. Returns it when it should go back to the pool
    /// instead, because someone began waiting for a connection meanwhile; otherwise the
    /// generation an expiry must name.
    pub fn put(&self, warm: Warm) -> Result<u64, Box<Warm>> {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let result = match self.state.lock() {
            Ok(mut state) => {
                *state = Slot::Ready(warm, generation);
                Ok(generation)
            }
            Err(_) => Err(Box::new(warm)),
        };
        self.settled.notify_waiters();
        // A waiter counts itself before it looks at the slot, and the slot is filled
        // before the count is read here: one of the two sees the other.
        if result.is_ok()
            && self.waiting.load(Ordering::SeqCst) > 0
            && let Some(warm) = self.take_if(generation)
        {
            return Err(Box::new(warm));
        }
        result
    }

    /// The warm connection for a read: waits for one being warmed (at most `HOLD`).
    pub async fn take_for_read(&self) -> Option<Warm> {
        let settled = self.settled.notified();
        tokio::pin!(settled);
        loop {
            settled.as_mut().enable();
            let warming = matches!(*self.state.lock().ok()?, Slot::Warming);
            if !warming {
                return self.take();
            }
            tokio::time::timeout(Self::HOLD, settled.as_mut()).await.ok()?;
            settled.set(self.settled.notified());
        }
    }

    /// Takes the warm connection, if one is ready.
    pub fn take(&self) -> Option<Warm> {
        let mut state = self.state.lock().ok()?;
        match std::mem::take(&mut *state) {
            Slot::Ready(warm, _) => Some(warm),
            other => {
                *state = other;
                None
            }
        }
    }

    /// Whether a connection is kept warm now.
    #[cfg(test)]
    pub fn is_held(&self) -> bool {
        self.state.lock().is_ok_and(|state| matches!(*state, Slot::Ready(..)))
    }

    /// Takes the warm connection if it is still the one put at `generation`.
    pub fn take_if(&self, generation: u64) -> Option<Warm> {
        let mut state = self.state.lock().ok()?;
        match &*state {
            Slot::Ready(_, g) if *g == generation => match std::mem::take(&mut *state) {
                Slot::Ready(warm, _) => Some(warm),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Counts a caller of [`Database::acquire`] while it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
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
    /// A warm connection counts as the pool's: when the pool has none idle, its
    /// transaction is ended and it is used.
    pub async fn acquire(&self) -> Result<PoolConnection<Postgres>, sqlx::Error> {
        self.used.send_if_modified(|used| !std::mem::replace(used, true));
        let _waiting = Waiting::new(&self.warm.waiting);
        if self.pool.num_idle() == 0
            && let Some(warm) = self.warm.take()
        {
            let mut conn = warm.conn;
            match (&mut *conn).execute(sqlx::raw_sql("ROLLBACK")).await {
                Ok(_) => return Ok(conn),
                Err(_) => conn.close_on_drop(),
            }
        }
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
