//! Clients hear when tables appear or disappear: `notifications/resources/list_changed`
//! and an update of the database's table listing.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TRANSPORTS, setup, start_with};
use mcp_core::client::{ClientOptions, EraChoice, NotificationHandler};

#[tokio::test]
async fn creating_a_table_announces_that_the_resources_changed() {
    let s = common::schema("watch");
    setup(&format!("DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};")).await;
    for transport in TRANSPORTS {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = seen.clone();
        let handler: NotificationHandler = Arc::new(move |n| {
            let uri = n.params.as_ref().and_then(|p| p.get("uri")).and_then(|u| u.as_str()).unwrap_or_default();
            sink.lock().expect("lock").push(format!("{} {uri}", n.method));
        });
        let options = ClientOptions { era: EraChoice::Handshake, on_notification: Some(handler), ..Default::default() };
        let c = start_with(transport, &["--schema-poll-secs", "1"], options).await;
        // Subscribe to the listing so that its update is sent too.
        let mut params = serde_json::Map::new();
        params.insert("uri".into(), "postgres://default/tables".into());
        c.client.request("resources/subscribe", params).await.expect("subscribe");
        let wanted = |seen: &[String]| {
            seen.iter().any(|m| m.starts_with("notifications/resources/list_changed"))
                && seen.iter().any(|m| m == "notifications/resources/updated postgres://default/tables")
        };
        // Change the schema, again every two poll intervals until notified: a change made
        // before the watcher's first fingerprint is part of that fingerprint, not a change.
        let started = Instant::now();
        let mut changes = 0;
        while !wanted(&seen.lock().expect("lock")) && started.elapsed() < Duration::from_secs(15) {
            if started.elapsed() >= Duration::from_secs(2 * changes) {
                setup(&format!("CREATE TABLE {s}.new_{}_{changes} (id int);", transport as u8)).await;
                changes += 1;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(wanted(&seen.lock().expect("lock")), "over {transport:?}: {:?}", seen.lock().expect("lock"));
    }
}

#[tokio::test]
async fn every_visible_table_is_a_listed_resource() {
    let s = common::schema("listed");
    setup(&format!(
        "DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s};
         CREATE TABLE {s}.orders (id int PRIMARY KEY); COMMENT ON TABLE {s}.orders IS 'customer orders';
         CREATE TABLE {s}.salaries (pay int);"
    ))
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, format!("[scopes]\ndeny_tables = [\"{s}.salaries\"]\n")).expect("policy");
    for transport in TRANSPORTS {
        let c = common::start(transport, &["--policy-file", policy.to_str().expect("path")]).await;
        let resources = c.client.list_resources().await.expect("list");
        let orders = resources
            .iter()
            .find(|r| r["uri"] == format!("postgres://default/{s}/orders"))
            .unwrap_or_else(|| panic!("orders not listed over {transport:?}"));
        assert_eq!(orders["description"], "table: customer orders");
        assert!(!resources.iter().any(|r| r["uri"] == format!("postgres://default/{s}/salaries")), "a denied table");
        let read = c.client.read_resource(&format!("postgres://default/{s}/orders")).await.expect("read");
        let body: serde_json::Value =
            serde_json::from_str(read["contents"][0]["text"].as_str().expect("text")).expect("json");
        assert_eq!(body["columns"][0]["name"], "id", "{body}");
    }
}
