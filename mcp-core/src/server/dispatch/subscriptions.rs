//! Change notifications: `subscriptions/listen` in the stateless era, and the
//! handshake-era notification for a change.

use serde_json::{Map, Value, json};

use super::envelope::params_of;
use crate::protocol::types::meta;
use crate::protocol::{ErrorObject, Message, Notification, Request, jsonrpc::kind};
use crate::server::Server;
use crate::server::change::Change;
use crate::server::context::RequestSink;
use crate::server::session::Session;

impl Server {
    /// `subscriptions/listen`: acknowledge, then forward the opted-in changes until the
    /// client goes away (stdio: cancellation; HTTP: the stream closes).
    pub(super) async fn listen(&self, req: &Request, sink: Option<RequestSink>) -> Result<Value, ErrorObject> {
        let params = params_of(req);
        let filter = match params.get("notifications") {
            Some(Value::Object(f)) => f.clone(),
            Some(other) => {
                return Err(ErrorObject::invalid_params(format!(
                    "`notifications` must be an object, got {}",
                    kind(other)
                )));
            }
            None => {
                return Err(ErrorObject::invalid_params(
                    "subscriptions/listen needs `notifications` (the filter of notification types)",
                ));
            }
        };
        let Some(sink) = sink else {
            return Err(ErrorObject::internal("this transport cannot stream notifications"));
        };
        let flag = |k: &str| filter.get(k).and_then(Value::as_bool).unwrap_or(false);
        let caps = self.capabilities();
        let tools = flag("toolsListChanged") && caps.get("tools").is_some();
        let prompts = flag("promptsListChanged") && caps.get("prompts").is_some();
        let resources = flag("resourcesListChanged") && caps.get("resources").is_some();
        let uris: Vec<String> = if caps.get("resources").is_some() {
            filter
                .get("resourceSubscriptions")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|u| u.as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut ack = Map::new();
        if tools {
            ack.insert("toolsListChanged".into(), json!(true));
        }
        if prompts {
            ack.insert("promptsListChanged".into(), json!(true));
        }
        if resources {
            ack.insert("resourcesListChanged".into(), json!(true));
        }
        if !uris.is_empty() {
            ack.insert("resourceSubscriptions".into(), json!(uris));
        }
        let sub_meta = json!({ meta::SUBSCRIPTION_ID: req.id });
        let mut changes = self.changes();
        let _ = sink.send(
            Message::Notification(Notification::new(
                "notifications/subscriptions/acknowledged",
                json!({ "_meta": sub_meta, "notifications": ack }),
            ))
            .into(),
        );
        loop {
            let change = match changes.recv().await {
                Ok(c) => c,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            let note = match change {
                Change::Tools if tools => {
                    Notification::new("notifications/tools/list_changed", json!({ "_meta": sub_meta }))
                }
                Change::Prompts if prompts => {
                    Notification::new("notifications/prompts/list_changed", json!({ "_meta": sub_meta }))
                }
                Change::Resources if resources => {
                    Notification::new("notifications/resources/list_changed", json!({ "_meta": sub_meta }))
                }
                Change::ResourceUpdated(uri) if uris.contains(&uri) => {
                    Notification::new("notifications/resources/updated", json!({ "_meta": sub_meta, "uri": uri }))
                }
                _ => continue,
            };
            if sink.send(Message::Notification(note).into()).is_err() {
                break;
            }
        }
        Ok(json!({ "_meta": { meta::SUBSCRIPTION_ID: req.id } }))
    }

    /// The handshake-era notification for a change, if this session wants it.
    pub fn handshake_notification(&self, session: &Session, change: &Change) -> Option<Notification> {
        session.handshake()?;
        Some(match change {
            Change::Tools => Notification::new("notifications/tools/list_changed", Value::Null),
            Change::Prompts => Notification::new("notifications/prompts/list_changed", Value::Null),
            Change::Resources => Notification::new("notifications/resources/list_changed", Value::Null),
            Change::ResourceUpdated(uri) if session.is_subscribed(uri) => {
                Notification::new("notifications/resources/updated", json!({ "uri": uri }))
            }
            Change::ResourceUpdated(_) => return None,
        })
    }
}
