//! Tool schemas in the subset every client and model provider accepts.
//!
//! JSON Schema as schemars writes it is valid but not portable: model providers'
//! function-calling validators reject a bare `true` where a schema is expected (a
//! `serde_json::Value` member), single-`type` dialects (Gemini's OpenAPI subset) reject
//! `type: ["string", "null"]`, and TypeScript clients warn on formats JSON Schema does not
//! define (`uint64`, `double`). The official Inspector's `--strict` check flags all three.
//! [`make_portable`] rewrites them without changing what the schema accepts: `true`
//! becomes an `anyOf` of every JSON type, a type list becomes an `anyOf` of single types,
//! and a format JSON Schema does not define is dropped (the numeric bounds schemars
//! writes beside it stay).

use serde_json::{Map, Value, json};

/// The formats JSON Schema 2020-12 defines; any other is dropped.
const STANDARD_FORMATS: [&str; 19] = [
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// Keywords whose value is one subschema.
fn one_schema(keyword: &str) -> bool {
    matches!(
        keyword,
        "items"
            | "contains"
            | "not"
            | "propertyNames"
            | "if"
            | "then"
            | "else"
            | "additionalProperties"
            | "unevaluatedProperties"
            | "additionalItems"
            | "unevaluatedItems"
            | "contentSchema"
    )
}
/// Keywords where a boolean is the usual spelling (`additionalProperties: false`).
fn boolean_allowed(keyword: &str) -> bool {
    matches!(keyword, "additionalProperties" | "unevaluatedProperties" | "additionalItems" | "unevaluatedItems")
}
/// Keywords whose value is a list of subschemas.
fn schema_list(keyword: &str) -> bool {
    matches!(keyword, "allOf" | "anyOf" | "oneOf" | "prefixItems")
}
/// Keywords whose value maps names to subschemas.
fn schema_map(keyword: &str) -> bool {
    matches!(
        keyword,
        "properties" | "patternProperties" | "dependentSchemas" | "dependencies" | "$defs" | "definitions"
    )
}
/// Keywords that constrain what a schema accepts; a schema with none of them is a bare
/// `true` spelt as an object (`{"description": …}`).
fn constraining(keyword: &str) -> bool {
    // A match, not a list scan: this runs for every key of every schema node at start.
    matches!(
        keyword,
        "type"
            | "enum"
            | "const"
            | "multipleOf"
            | "maximum"
            | "exclusiveMaximum"
            | "minimum"
            | "exclusiveMinimum"
            | "maxLength"
            | "minLength"
            | "pattern"
            | "format"
            | "contentMediaType"
            | "contentEncoding"
            | "contentSchema"
            | "maxItems"
            | "minItems"
            | "uniqueItems"
            | "maxContains"
            | "minContains"
            | "maxProperties"
            | "minProperties"
            | "required"
            | "dependentRequired"
            | "allOf"
            | "anyOf"
            | "oneOf"
            | "not"
            | "items"
            | "prefixItems"
            | "contains"
            | "additionalItems"
            | "unevaluatedItems"
            | "properties"
            | "patternProperties"
            | "additionalProperties"
            | "unevaluatedProperties"
            | "propertyNames"
            | "dependentSchemas"
            | "dependencies"
            | "$ref"
            | "$dynamicRef"
            | "$recursiveRef"
            | "if"
    )
}

/// Whether a schema object constrains anything (an `if` only with its `then` or `else`).
fn constrains(map: &Map<String, Value>) -> bool {
    map.keys().any(|k| k != "if" && constraining(k))
        || (map.contains_key("if") && (map.contains_key("then") || map.contains_key("else")))
}

/// Keywords that describe a schema rather than constrain it: they stay outside the
/// `anyOf` a type list becomes.
fn annotation(keyword: &str) -> bool {
    matches!(
        keyword,
        "title" | "description" | "default" | "examples" | "deprecated" | "readOnly" | "writeOnly" | "$comment"
    )
}

/// Rewrites `schema` (a tool's input or output schema) into the portable subset.
pub fn make_portable(schema: &mut Value) {
    portable(schema, None);
}

/// Any JSON value, spelled with one `type` per branch.
fn any_value() -> Value {
    let branches: Vec<Value> =
        ["string", "number", "boolean", "object", "array", "null"].iter().map(|t| json!({ "type": t })).collect();
    json!({ "anyOf": branches })
}

fn portable(node: &mut Value, keyword: Option<&str>) {
    match node {
        Value::Bool(accepts) if !keyword.is_some_and(boolean_allowed) => {
            *node = if *accepts { any_value() } else { json!({ "not": {} }) };
        }
        Value::Object(map) => {
            if map.get("format").and_then(Value::as_str).is_some_and(|f| !STANDARD_FORMATS.contains(&f)) {
                map.remove("format");
            }
            split_type_list(map);
            // `{}` under `not` is the exact always-true schema: leave it.
            if !constrains(map) && keyword != Some("not") {
                map.extend(any_value().as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())));
            }
            for (key, child) in map.iter_mut() {
                let key = key.as_str();
                if one_schema(key) {
                    match child {
                        // `items: [..]`, the pre-2020 tuple form.
                        Value::Array(items) if key == "items" => items.iter_mut().for_each(|s| portable(s, None)),
                        _ => portable(child, Some(key)),
                    }
                } else if schema_list(key) {
                    if let Value::Array(items) = child {
                        items.iter_mut().for_each(|s| portable(s, None));
                    }
                } else if schema_map(key)
                    && let Value::Object(members) = child
                {
                    members.values_mut().for_each(|s| portable(s, None));
                }
            }
        }
        _ => {}
    }
}

/// `{"type": ["integer", "null"], "minimum": 0, "description": d}` becomes
/// `{"description": d, "anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]}`.
fn split_type_list(map: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = map.get("type") else { return };
    let types: Vec<String> = types.iter().filter_map(Value::as_str).map(str::to_string).collect();
    if types.len() == 1 {
        map.insert("type".into(), json!(types[0]));
        return;
    }
    map.remove("type");
    let (annotations, constraints): (Map<String, Value>, Map<String, Value>) =
        std::mem::take(map).into_iter().partition(|(k, _)| annotation(k));
    let branches: Vec<Value> = types
        .iter()
        .map(|t| {
            let mut branch = Map::new();
            branch.insert("type".into(), json!(t));
            if t != "null" {
                for (k, v) in &constraints {
                    // An enum that lists null keeps it in the null branch only.
                    let v = match (k.as_str(), v) {
                        ("enum", Value::Array(values)) => {
                            Value::Array(values.iter().filter(|v| !v.is_null()).cloned().collect())
                        }
                        _ => v.clone(),
                    };
                    branch.insert(k.clone(), v);
                }
            }
            Value::Object(branch)
        })
        .collect();
    *map = annotations;
    map.insert("anyOf".into(), Value::Array(branches));
}

/// What keeps `schema` from being portable (a path and the problem, one per finding):
/// empty when [`make_portable`] has nothing left to do. For tests over every tool.
pub fn problems(schema: &Value) -> Vec<String> {
    let mut found = Vec::new();
    lint(schema, "", &mut found);
    found
}

fn lint(schema: &Value, path: &str, found: &mut Vec<String>) {
    match schema {
        Value::Bool(_) => found.push(format!("{path}: boolean schema")),
        Value::Object(map) => {
            if map.get("type").is_some_and(Value::is_array) {
                found.push(format!("{path}: type list"));
            }
            if !constrains(map) && !path.ends_with(".not") {
                found.push(format!("{path}: constrains nothing"));
            }
            if let Some(f) = map.get("format").and_then(Value::as_str)
                && !STANDARD_FORMATS.contains(&f)
            {
                found.push(format!("{path}: format {f}"));
            }
            for (k, v) in map {
                if boolean_allowed(k) && v.is_boolean() {
                    continue;
                }
                if one_schema(k) {
                    lint(v, &format!("{path}.{k}"), found);
                } else if schema_list(k) {
                    for (i, s) in v.as_array().into_iter().flatten().enumerate() {
                        lint(s, &format!("{path}.{k}[{i}]"), found);
                    }
                } else if schema_map(k) {
                    for (n, s) in v.as_object().into_iter().flatten() {
                        lint(s, &format!("{path}.{k}.{n}"), found);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_schemars_writes_becomes_portable_and_accepts_the_same() {
        let original = json!({ "type": ["integer", "null"], "format": "uint", "items": true,
            "properties": { "detail": { "description": "anything" } } });
        assert_eq!(problems(&original).len(), 4, "{:?}", problems(&original));
        let mut schema = json!({
            "type": "object",
            "properties": {
                "params": { "type": "array", "items": true, "description": "values" },
                "limit": { "type": ["integer", "null"], "format": "uint64", "minimum": 0, "default": null },
                "mode": { "type": ["string", "null"], "enum": ["a", "b", null] },
                "ratio": { "type": "number", "format": "double" },
                "at": { "type": "string", "format": "date-time" },
                "never": false,
                "detail": { "description": "anything" },
                "nothing": { "not": {} },
                "rows": { "type": "array", "items": { "type": "array", "items": true } }
            },
            "additionalProperties": false
        });
        make_portable(&mut schema);
        let found = problems(&schema);
        assert!(found.is_empty(), "{found:?}\n{schema:#}");
        let p = &schema["properties"];
        assert_eq!(p["params"]["items"], any_value());
        assert_eq!(p["params"]["description"], "values");
        assert_eq!(
            p["limit"],
            json!({ "default": null, "anyOf": [{ "type": "integer", "minimum": 0 }, { "type": "null" }] })
        );
        assert_eq!(p["mode"]["anyOf"], json!([{ "type": "string", "enum": ["a", "b"] }, { "type": "null" }]));
        assert_eq!(p["ratio"], json!({ "type": "number" }));
        assert_eq!(p["at"]["format"], "date-time");
        assert_eq!(p["never"], json!({ "not": {} }));
        assert_eq!(p["nothing"], json!({ "not": {} }));
        assert_eq!(p["detail"]["description"], "anything");
        assert_eq!(p["detail"]["anyOf"], any_value()["anyOf"]);
        assert_eq!(p["rows"]["items"]["items"], any_value());
        assert_eq!(schema["additionalProperties"], false);
    }
}
