//! Pagination of every list: opaque cursors, deterministic pages.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Map, Value, json};

use crate::protocol::{ErrorObject, jsonrpc::kind};
use crate::server::Server;

impl Server {
    /// The page of `items` the cursor in `params` asks for, under `key`, each item made
    /// JSON by `to_value` (only the page's items are).
    pub(super) fn page<T>(
        &self,
        params: &Map<String, Value>,
        items: impl ExactSizeIterator<Item = T>,
        key: &str,
        to_value: impl Fn(T) -> Value,
    ) -> Result<Value, ErrorObject> {
        let start = match params.get("cursor") {
            None | Some(Value::Null) => 0,
            Some(Value::String(c)) => decode_cursor(c).ok_or_else(|| {
                ErrorObject::invalid_params(format!("`cursor` {c:?} is not a cursor this server issued"))
            })?,
            Some(other) => {
                return Err(ErrorObject::invalid_params(format!("`cursor` must be a string, got {}", kind(other))));
            }
        };
        let total = items.len();
        let size = self.inner.config.page_size.max(1);
        let page: Vec<Value> = items.skip(start).take(size).map(to_value).collect();
        // Moved in, not through `json!`, which would copy every item.
        let mut result = Value::Object(Map::from_iter([(key.to_string(), Value::Array(page))]));
        if start + size < total {
            result["nextCursor"] = json!(encode_cursor(start + size));
        }
        Ok(result)
    }
}

fn encode_cursor(offset: usize) -> String {
    B64.encode(format!("o:{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let raw = B64.decode(cursor).ok()?;
    std::str::from_utf8(&raw).ok()?.strip_prefix("o:")?.parse().ok()
}
