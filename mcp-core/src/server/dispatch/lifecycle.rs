//! The handshake (`initialize`), `server/discover`, and the capabilities both announce.

use serde_json::{Map, Value, json};

use super::envelope::{already_initialized, str_param};
use crate::protocol::types::meta;
use crate::protocol::{Era, ErrorObject, Implementation, ProtocolVersion, jsonrpc::kind};
use crate::server::Server;
use crate::server::session::{Handshake, Session};

impl Server {
    pub(super) fn capabilities(&self) -> Value {
        let mut caps = json!({ "logging": {} });
        if self.inner.tools.any() {
            caps["tools"] = json!({ "listChanged": true });
        }
        if !self.inner.resources.is_empty() || !self.inner.templates.is_empty() || self.inner.resource_lister.is_some()
        {
            caps["resources"] = json!({ "subscribe": true, "listChanged": true });
        }
        if !self.inner.prompts.is_empty() {
            caps["prompts"] = json!({ "listChanged": true });
        }
        if self.inner.completer.is_some() {
            caps["completions"] = json!({});
        }
        caps
    }

    pub(super) fn initialize(&self, session: &Session, params: &Map<String, Value>) -> Result<Value, ErrorObject> {
        if let Some(version) = session.negotiated_version() {
            return Err(already_initialized(version));
        }
        let requested = str_param(params, "protocolVersion", "initialize")?;
        let version = match ProtocolVersion::parse(requested) {
            Some(v) if v.era() == Era::Handshake => v,
            _ => ProtocolVersion::LATEST_HANDSHAKE,
        };
        let capabilities = match params.get("capabilities") {
            Some(v @ Value::Object(_)) => v.clone(),
            None => json!({}),
            Some(other) => {
                return Err(ErrorObject::invalid_params(format!(
                    "`capabilities` of initialize must be an object, got {}",
                    kind(other)
                )));
            }
        };
        let client_info =
            match params.get("clientInfo") {
                None => None,
                Some(v) => Some(serde_json::from_value::<Implementation>(v.clone()).map_err(|e| {
                    ErrorObject::invalid_params(format!("`clientInfo` of initialize is malformed: {e}"))
                })?),
            };
        // Checked again as it is set: two initialize requests may run at once.
        if !session.set_handshake(Handshake { version, capabilities, client_info }) {
            return Err(already_initialized(session.negotiated_version().unwrap_or(version)));
        }
        let mut result = json!({
            "protocolVersion": version.as_str(),
            "capabilities": self.capabilities(),
            "serverInfo": self.inner.info,
        });
        if let Some(instructions) = &self.inner.instructions {
            result["instructions"] = json!(instructions);
        }
        Ok(result)
    }

    pub(super) fn discover(&self) -> Value {
        let mut result = json!({
            "resultType": "complete",
            "supportedVersions": ProtocolVersion::supported_strings(),
            "capabilities": self.capabilities(),
            "_meta": { meta::SERVER_INFO: self.inner.info },
            "ttlMs": self.inner.config.list_ttl_ms,
            "cacheScope": "public",
        });
        if let Some(instructions) = &self.inner.instructions {
            result["instructions"] = json!(instructions);
        }
        result
    }
}
