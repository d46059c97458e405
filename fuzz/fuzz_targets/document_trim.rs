//! The one-pass document trim (`mcp_core::connector::trim`, what mcp-docker's inspect
//! answers are made with): on any bytes it must not panic, must accept exactly what
//! serde_json accepts as one JSON value, must write one line of JSON, and must give what
//! a second, tree-based reading of the same rules gives (`reference` below).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_core::connector::{Trim, trimmed};
use mcp_core::output::clip;
use mcp_core::security::redact::redact_env;
use serde_json::Value;

const RULES: Trim = Trim {
    drop: &["GraphDriver"],
    env: &[&["Config", "Env"]],
    redact: true,
    last: &[&["State", "Health", "Log"]],
    clip: &[(&["State", "Health", "Log", "Output"], 16)],
};

fn empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// The rules applied to a tree: `path` is the members from the top (array items do not
/// count); `item`: an array item, which stays even when empty.
fn reference(v: &mut Value, path: &mut Vec<String>) {
    let at = |p: &[&str], path: &[String]| p.len() == path.len() && p.iter().zip(path).all(|(a, b)| a == b);
    match v {
        Value::Object(map) => {
            if path.is_empty() {
                map.remove("GraphDriver");
            }
            for (k, child) in map.iter_mut() {
                path.push(k.clone());
                reference(child, path);
                path.pop();
            }
            map.retain(|_, child| !empty(child));
        }
        Value::Array(items) => {
            if at(&["State", "Health", "Log"], path) && items.len() > 1 {
                let last = items.pop();
                items.clear();
                items.extend(last);
            }
            items.iter_mut().for_each(|item| reference(item, path));
        }
        Value::String(s) if at(&["Config", "Env"], path) => *s = redact_env(s),
        Value::String(s) if at(&["State", "Health", "Log", "Output"], path) => *s = clip(s, 16),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let out = trimmed(data, &RULES);
    let tree = serde_json::from_slice::<Value>(data);
    assert_eq!(out.is_ok(), tree.is_ok(), "trimmed and serde_json disagree on {:?}", String::from_utf8_lossy(data));
    let (Ok(text), Ok(tree)) = (out, tree) else { return };
    assert!(!text.contains('\n') && serde_json::from_str::<Value>(&text).is_ok(), "not one line of JSON: {text}");
    // Compared on the tree's own JSON: a duplicate key is kept as given by the trim, where
    // a tree keeps only the last one.
    let canonical = serde_json::to_vec(&tree).expect("a tree writes");
    let got: Value = serde_json::from_str(&trimmed(&canonical, &RULES).expect("canonical JSON")).expect("JSON");
    let mut expected = tree;
    reference(&mut expected, &mut Vec::new());
    assert_eq!(got, expected, "input {:?}", String::from_utf8_lossy(data));
});
