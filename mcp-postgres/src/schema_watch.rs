//! Tells clients when a database's set of tables changes, so that a client showing the
//! table resources refreshes them: each database's catalog is fingerprinted every few
//! seconds (one cheap query), and a change sends `notifications/resources/list_changed`
//! plus an update of that database's `postgres://{database}/tables` resource.

use std::sync::Arc;
use std::time::Duration;

use mcp_core::Server;
use mcp_core::server::Change;
use serde_json::Value;

use crate::databases::{Database, Databases};
use crate::resources::listing_uri;
use crate::transaction::{Access, Tx, Window, run};

/// Names and kinds of every user relation, hashed: changes when a table, view,
/// materialized view or foreign table is created, dropped or renamed.
const FINGERPRINT: &str = "SELECT count(*)::int8, coalesce(sum(hashtext(n.nspname || '.' || c.relname || ':' || c.relkind::text)), 0)::int8 \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' \
       AND n.nspname NOT LIKE 'pg_temp%'";

/// Watches every database until the process ends.
pub fn spawn(server: Server, dbs: Arc<Databases>, every: Duration) {
    for db in dbs.all().iter().cloned() {
        let server = server.clone();
        let timeout = dbs.settings.statement_timeout;
        tokio::spawn(async move {
            // Not at start: the first fingerprint waits for the database's first call, or
            // one interval for a client that only subscribed.
            tokio::select! {
                _ = db.first_used() => {}
                _ = tokio::time::sleep(every) => {}
            }
            let mut last: Option<Value> = None;
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // An unreachable database keeps its last fingerprint: no change is reported.
                let Some(now) = fingerprint(&db, timeout).await else { continue };
                if last.as_ref().is_some_and(|l| *l != now) {
                    tracing::debug!(database = %db.name, "the set of tables changed");
                    server.notify(Change::Resources);
                    server.notify(Change::ResourceUpdated(listing_uri(&db.name)));
                }
                last = Some(now);
            }
        });
    }
}

async fn fingerprint(db: &Arc<Database>, timeout: Duration) -> Option<Value> {
    let read = async {
        let mut tx = Tx::begin(db, Access::ReadOnly, timeout, db.role.as_deref()).await?;
        let rows = run(&mut tx, FINGERPRINT, &[], Window::ALL).await?;
        tx.rollback();
        Ok::<_, mcp_core::ToolError>(rows.rows.into_iter().next())
    };
    match read.await {
        Ok(fingerprint) => fingerprint,
        Err(e) => {
            tracing::debug!(database = %db.name, error = %e, "cannot read the schema fingerprint");
            None
        }
    }
}
