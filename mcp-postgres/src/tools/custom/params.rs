//! The parameters of an operator's tool: the types a file may declare, the JSON Schema
//! each becomes, the Postgres type it is bound as, and the check of an argument against
//! it (strict on the JSON kind: a string is not an integer here, unlike `query`'s params).

use serde_json::{Value, json};
use sqlx::postgres::{PgTypeInfo, Postgres};
use sqlx::types::chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sqlx::types::{BigDecimal, JsonValue, Uuid};

use crate::values::check_bind;

/// The element type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    Text,
    Integer,
    Numeric,
    Boolean,
    Date,
    Timestamp,
    Timestamptz,
    Uuid,
    Json,
}

const BASES: &[(&str, Base)] = &[
    ("text", Base::Text),
    ("integer", Base::Integer),
    ("numeric", Base::Numeric),
    ("boolean", Base::Boolean),
    ("date", Base::Date),
    ("timestamp", Base::Timestamp),
    ("timestamptz", Base::Timestamptz),
    ("uuid", Base::Uuid),
    ("json", Base::Json),
];

/// A declared parameter type: `integer`, `text[]`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamType {
    base: Base,
    array: bool,
}

impl ParamType {
    /// Reads a type as a file spells it.
    pub fn parse(spelling: &str) -> Result<ParamType, String> {
        let (name, array) = match spelling.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (spelling, false),
        };
        let known = || BASES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
        let base = BASES.iter().find(|(n, _)| *n == name).map(|(_, b)| *b).ok_or_else(|| {
            format!("unknown type `{spelling}`; known: {}, and arrays of them as `text[]` (not json)", known())
        })?;
        if array && base == Base::Json {
            return Err("`json[]` is not a parameter type: declare `json` and pass a JSON array".into());
        }
        Ok(ParamType { base, array })
    }

    /// The Postgres type the argument is bound as.
    pub fn pg(self) -> PgTypeInfo {
        fn of<T: sqlx::Type<Postgres>>() -> PgTypeInfo {
            T::type_info()
        }
        match (self.base, self.array) {
            (Base::Text, false) => of::<String>(),
            (Base::Text, true) => of::<Vec<String>>(),
            (Base::Integer, false) => of::<i64>(),
            (Base::Integer, true) => of::<Vec<i64>>(),
            (Base::Numeric, false) => of::<BigDecimal>(),
            (Base::Numeric, true) => of::<Vec<BigDecimal>>(),
            (Base::Boolean, false) => of::<bool>(),
            (Base::Boolean, true) => of::<Vec<bool>>(),
            (Base::Date, false) => of::<NaiveDate>(),
            (Base::Date, true) => of::<Vec<NaiveDate>>(),
            (Base::Timestamp, false) => of::<NaiveDateTime>(),
            (Base::Timestamp, true) => of::<Vec<NaiveDateTime>>(),
            (Base::Timestamptz, false) => of::<DateTime<Utc>>(),
            (Base::Timestamptz, true) => of::<Vec<DateTime<Utc>>>(),
            (Base::Uuid, false) => of::<Uuid>(),
            (Base::Uuid, true) => of::<Vec<Uuid>>(),
            (Base::Json, _) => of::<JsonValue>(),
        }
    }

    /// The JSON Schema of an argument of this type.
    pub fn schema(self) -> Value {
        let item = match self.base {
            Base::Text => json!({"type": "string"}),
            Base::Integer => json!({"type": "integer"}),
            Base::Numeric => json!({"type": ["number", "string"], "description": "a number, or a decimal string"}),
            Base::Boolean => json!({"type": "boolean"}),
            Base::Date => json!({"type": "string", "format": "date"}),
            Base::Timestamp => json!({"type": "string", "description": "YYYY-MM-DDTHH:MM:SS, no offset"}),
            Base::Timestamptz => json!({"type": "string", "format": "date-time"}),
            Base::Uuid => json!({"type": "string", "format": "uuid"}),
            Base::Json => json!({}),
        };
        if self.array { json!({"type": "array", "items": item}) } else { item }
    }

    /// Checks `value` as an argument of this type: its JSON kind, then the same
    /// conversion the binding makes (a date that is no date fails here).
    pub fn check(self, value: &Value) -> Result<(), String> {
        if self.array {
            let Value::Array(items) = value else { return Err(format!("expected an array, got {}", kind(value))) };
            for (i, item) in items.iter().enumerate() {
                self.check_kind(item).map_err(|e| format!("item {i}: {e}"))?;
            }
        } else {
            self.check_kind(value)?;
        }
        check_bind(&self.pg(), value)
    }

    fn check_kind(self, value: &Value) -> Result<(), String> {
        let fits = match self.base {
            Base::Text | Base::Date | Base::Timestamp | Base::Timestamptz | Base::Uuid => value.is_string(),
            Base::Integer => value.as_i64().is_some(),
            Base::Numeric => value.is_number() || value.is_string(),
            Base::Boolean => value.is_boolean(),
            Base::Json => true,
        };
        if fits { Ok(()) } else { Err(format!("expected {}, got {}", self.noun(), kind(value))) }
    }

    fn noun(self) -> &'static str {
        match self.base {
            Base::Text => "a string",
            Base::Integer => "an integer",
            Base::Numeric => "a number or a decimal string",
            Base::Boolean => "true or false",
            Base::Date => "a date string (YYYY-MM-DD)",
            Base::Timestamp => "a timestamp string (YYYY-MM-DDTHH:MM:SS)",
            Base::Timestamptz => "an RFC 3339 timestamp string",
            Base::Uuid => "a UUID string",
            Base::Json => "JSON",
        }
    }
}

/// What a JSON value is, for messages (`a string "x"`, `the number 1.5`).
fn kind(value: &Value) -> String {
    let shown = |v: &Value| {
        let text = v.to_string();
        if text.chars().count() > 40 { format!("{}…", text.chars().take(40).collect::<String>()) } else { text }
    };
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(_) => format!("the number {}", shown(value)),
        Value::String(_) => format!("the string {}", shown(value)),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_must_have_the_declared_kind_and_form() {
        let t = |s: &str| ParamType::parse(s).expect(s);
        assert!(t("integer").check(&json!(42)).is_ok());
        assert!(t("integer").check(&json!("42")).expect_err("string").contains("expected an integer"));
        assert!(t("integer").check(&json!(1.5)).is_err());
        assert!(t("numeric").check(&json!("12.50")).is_ok());
        assert!(t("numeric").check(&json!("twelve")).expect_err("word").contains("not a decimal"));
        assert!(t("date").check(&json!("2026-02-30")).is_err());
        assert!(t("uuid").check(&json!("not-a-uuid")).is_err());
        assert!(t("text[]").check(&json!(["a", "b"])).is_ok());
        assert!(t("integer[]").check(&json!([1, "2"])).expect_err("mixed").starts_with("item 1"));
        assert!(t("json").check(&json!({"any": [1]})).is_ok());
        assert!(ParamType::parse("json[]").is_err());
        assert!(ParamType::parse("int").expect_err("unknown").contains("known: text, integer"));
        assert_eq!(t("integer[]").schema(), json!({"type": "array", "items": {"type": "integer"}}));
    }
}
