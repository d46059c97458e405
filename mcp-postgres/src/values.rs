//! Postgres values to JSON and back.
//!
//! Results come from the server in binary form; each column's type is resolved once per
//! result into a [`Kind`], then every row is decoded by a plain match. The JSON forms:
//! integers and floats as numbers, `numeric` and `money` as exact decimal strings,
//! timestamps as RFC 3339, intervals as ISO 8601 durations, `json`/`jsonb` embedded,
//! `uuid` and network types as strings, `bytea` as base64, arrays as arrays, NULL as
//! null. A read's columns of other types are asked of the server as text ([`text_form`]).
//! Parameters go the other way, by the type the server inferred for each `$n`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Number, Value};
use sqlx::postgres::types::{Oid, PgInterval, PgMoney, PgRange, PgTimeTz};
use sqlx::postgres::{PgArguments, PgRow, PgTypeInfo, PgTypeKind, PgValueRef, Postgres};
use sqlx::types::chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use sqlx::types::{BigDecimal, BitVec, Json, Uuid, ipnetwork::IpNetwork, mac_address::MacAddress};
use sqlx::{Arguments as _, Decode, Row, TypeInfo, ValueRef};

/// How one column is decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    Numeric,
    Money,
    Text,
    Json,
    Uuid,
    Bytea,
    Date,
    Time,
    TimeTz,
    Timestamp,
    Timestamptz,
    Interval,
    Inet,
    MacAddr,
    Bits,
    Int4Range,
    Int8Range,
    NumRange,
    TsRange,
    TstzRange,
    DateRange,
    Array(Box<Kind>),
    /// Types whose binary form is their text: enums, `xml`.
    Label,
    /// Anything else: reported as unreadable with a hint to cast it.
    Other(String),
}

impl Kind {
    /// The decoder for a column of type `ty`.
    pub fn of(ty: &PgTypeInfo) -> Kind {
        match ty.kind() {
            PgTypeKind::Enum(_) => return Kind::Label,
            PgTypeKind::Domain(base) => return Kind::of(base),
            PgTypeKind::Array(elem) => return Kind::Array(Box::new(Kind::of(elem))),
            _ => {}
        }
        let name = ty.name();
        if let Some(elem) = name.strip_suffix("[]") {
            return Kind::Array(Box::new(Kind::by_name(elem)));
        }
        Kind::by_name(name)
    }

    /// Whether values of this kind are read from their binary form. The others are asked
    /// of the server as text (see [`text_form`]).
    pub fn decodes(&self) -> bool {
        match self {
            Kind::Other(_) => false,
            Kind::Array(elem) => elem.decodes_in_arrays(),
            _ => true,
        }
    }

    /// The element kinds [`array`] reads.
    fn decodes_in_arrays(&self) -> bool {
        use Kind::*;
        matches!(
            self,
            Bool | Int2
                | Int4
                | Int8
                | Float4
                | Float8
                | Numeric
                | Text
                | Json
                | Uuid
                | Bytea
                | Date
                | Timestamp
                | Timestamptz
                | Inet
        )
    }

    fn by_name(name: &str) -> Kind {
        match name.to_ascii_uppercase().as_str() {
            "BOOL" => Kind::Bool,
            "INT2" => Kind::Int2,
            "INT4" => Kind::Int4,
            "INT8" => Kind::Int8,
            "OID" | "REGCLASS" | "REGPROC" | "REGTYPE" | "XID" | "CID" => Kind::Oid,
            "FLOAT4" => Kind::Float4,
            "FLOAT8" => Kind::Float8,
            "NUMERIC" => Kind::Numeric,
            "MONEY" => Kind::Money,
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "\"CHAR\"" | "CHAR" | "CITEXT" | "UNKNOWN" => Kind::Text,
            "JSON" | "JSONB" => Kind::Json,
            "UUID" => Kind::Uuid,
            "BYTEA" => Kind::Bytea,
            "DATE" => Kind::Date,
            "TIME" => Kind::Time,
            "TIMETZ" => Kind::TimeTz,
            "TIMESTAMP" => Kind::Timestamp,
            "TIMESTAMPTZ" => Kind::Timestamptz,
            "INTERVAL" => Kind::Interval,
            "INET" | "CIDR" => Kind::Inet,
            "MACADDR" => Kind::MacAddr,
            "BIT" | "VARBIT" => Kind::Bits,
            "INT4RANGE" => Kind::Int4Range,
            "INT8RANGE" => Kind::Int8Range,
            "NUMRANGE" => Kind::NumRange,
            "TSRANGE" => Kind::TsRange,
            "TSTZRANGE" => Kind::TstzRange,
            "DATERANGE" => Kind::DateRange,
            "XML" => Kind::Label,
            other => Kind::Other(other.to_ascii_lowercase()),
        }
    }
}

/// A read (`body`, a statement that can stand as a subquery) whose columns of `kinds`
/// that do not decode (types without a binary form, such as `aclitem`, or one this
/// connector does not read, such as `point` or `tsvector`) come as text, as psql prints
/// them. The text is what the type's own output function prints, as `format`'s `%s`
/// calls it: not a cast to text, which may be a function of a user's (CREATE CAST),
/// while output functions are the server's or an extension's, installed by a superuser.
/// `num_nulls` keeps NULL apart from an empty text (`format` prints NULL as '').
pub fn text_form(body: &str, kinds: &[Kind]) -> String {
    let names: Vec<String> = (1..=kinds.len()).map(|i| format!("c{i}")).collect();
    let select: Vec<String> = kinds
        .iter()
        .zip(&names)
        .map(|(kind, c)| {
            if kind.decodes() {
                format!("mcp_text.{c}")
            } else {
                format!(
                    "CASE WHEN pg_catalog.num_nulls(mcp_text.{c}) OPERATOR(pg_catalog.=) 0 \
                     THEN pg_catalog.format('%s', mcp_text.{c}) END"
                )
            }
        })
        .collect();
    format!("SELECT {} FROM (\n{body}\n) AS mcp_text({})", select.join(", "), names.join(", "))
}

/// Column `i` of `row` as JSON.
pub fn decode(row: &PgRow, i: usize, kind: &Kind) -> Value {
    let raw = match row.try_get_raw(i) {
        Ok(raw) => raw,
        Err(e) => return Value::String(format!("<unreadable: {e}>")),
    };
    if raw.is_null() {
        return Value::Null;
    }
    decode_value(raw, kind).unwrap_or_else(|e| Value::String(format!("<unreadable: {e}>")))
}

type DecodeResult = Result<Value, sqlx::error::BoxDynError>;

fn get<'r, T: Decode<'r, Postgres>>(raw: PgValueRef<'r>) -> Result<T, sqlx::error::BoxDynError> {
    T::decode(raw)
}

fn decode_value(raw: PgValueRef<'_>, kind: &Kind) -> DecodeResult {
    Ok(match kind {
        Kind::Bool => Value::Bool(get(raw)?),
        Kind::Int2 => Value::from(get::<i16>(raw)?),
        Kind::Int4 => Value::from(get::<i32>(raw)?),
        Kind::Int8 => Value::from(get::<i64>(raw)?),
        Kind::Oid => Value::from(get::<Oid>(raw)?.0),
        Kind::Float4 => float(f64::from(get::<f32>(raw)?)),
        Kind::Float8 => float(get::<f64>(raw)?),
        Kind::Numeric => Value::String(numeric_text(raw.as_bytes()?)?),
        Kind::Money => Value::String(get::<PgMoney>(raw)?.to_bigdecimal(2).to_string()),
        Kind::Text | Kind::Label => Value::String(get::<String>(raw.clone()).or_else(|_| label(raw))?),
        Kind::Json => get::<Json<Value>>(raw)?.0,
        Kind::Uuid => Value::String(get::<Uuid>(raw)?.to_string()),
        Kind::Bytea => Value::String(BASE64.encode(get::<Vec<u8>>(raw)?)),
        Kind::Date => Value::String(get::<NaiveDate>(raw)?.to_string()),
        Kind::Time => Value::String(get::<NaiveTime>(raw)?.to_string()),
        Kind::TimeTz => {
            let t: PgTimeTz<NaiveTime, FixedOffset> = get(raw)?;
            Value::String(format!("{}{}", t.time, t.offset))
        }
        Kind::Timestamp => Value::String(get::<NaiveDateTime>(raw)?.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
        Kind::Timestamptz => Value::String(get::<DateTime<Utc>>(raw)?.to_rfc3339_opts(chrono_secs_format(), true)),
        Kind::Interval => Value::String(iso_duration(&get::<PgInterval>(raw)?)),
        Kind::Inet => Value::String(get::<IpNetwork>(raw)?.to_string()),
        Kind::MacAddr => Value::String(get::<MacAddress>(raw)?.to_string().to_lowercase()),
        Kind::Bits => Value::String(get::<BitVec>(raw)?.iter().map(|b| if b { '1' } else { '0' }).collect()),
        Kind::Int4Range => range(get::<PgRange<i32>>(raw)?),
        Kind::Int8Range => range(get::<PgRange<i64>>(raw)?),
        Kind::NumRange => range(get::<PgRange<BigDecimal>>(raw)?),
        Kind::TsRange => range(get::<PgRange<NaiveDateTime>>(raw)?),
        Kind::TstzRange => range(get::<PgRange<DateTime<Utc>>>(raw)?),
        Kind::DateRange => range(get::<PgRange<NaiveDate>>(raw)?),
        Kind::Array(elem) => array(raw, elem)?,
        Kind::Other(name) => Value::String(format!("<{name} value: cast it to text in the query, e.g. column::text>")),
    })
}

fn chrono_secs_format() -> chrono::SecondsFormat {
    chrono::SecondsFormat::AutoSi
}

fn label(raw: PgValueRef<'_>) -> Result<String, sqlx::error::BoxDynError> {
    Ok(std::str::from_utf8(raw.as_bytes()?)?.to_string())
}

/// Finite floats as numbers; NaN and infinities (which JSON lacks) as Postgres spells them.
fn float(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".into()),
        None if f > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

fn range<T: std::fmt::Display>(r: PgRange<T>) -> Value {
    use std::ops::Bound;
    let (open, lower) = match &r.start {
        Bound::Included(v) => ('[', v.to_string()),
        Bound::Excluded(v) => ('(', v.to_string()),
        Bound::Unbounded => ('(', String::new()),
    };
    let (close, upper) = match &r.end {
        Bound::Included(v) => (']', v.to_string()),
        Bound::Excluded(v) => (')', v.to_string()),
        Bound::Unbounded => (')', String::new()),
    };
    Value::String(format!("{open}{lower},{upper}{close}"))
}

fn array(raw: PgValueRef<'_>, elem: &Kind) -> DecodeResult {
    fn map<T>(raw: PgValueRef<'_>, f: impl Fn(T) -> Value) -> DecodeResult
    where
        T: for<'a> Decode<'a, Postgres> + sqlx::Type<Postgres> + sqlx::postgres::PgHasArrayType,
    {
        let items: Vec<Option<T>> = Decode::decode(raw)?;
        Ok(Value::Array(items.into_iter().map(|v| v.map(&f).unwrap_or(Value::Null)).collect()))
    }
    match elem {
        Kind::Bool => map::<bool>(raw, Value::Bool),
        Kind::Int2 => map::<i16>(raw, Value::from),
        Kind::Int4 => map::<i32>(raw, Value::from),
        Kind::Int8 => map::<i64>(raw, Value::from),
        Kind::Float4 => map::<f32>(raw, |f| float(f64::from(f))),
        Kind::Float8 => map::<f64>(raw, float),
        Kind::Numeric => map::<BigDecimal>(raw, |d| Value::String(d.to_plain_string())),
        Kind::Text => map::<String>(raw, Value::String),
        Kind::Json => map::<Json<Value>>(raw, |j| j.0),
        Kind::Uuid => map::<Uuid>(raw, |u| Value::String(u.to_string())),
        Kind::Bytea => map::<Vec<u8>>(raw, |b| Value::String(BASE64.encode(b))),
        Kind::Date => map::<NaiveDate>(raw, |d| Value::String(d.to_string())),
        Kind::Timestamp => map::<NaiveDateTime>(raw, |t| Value::String(t.format("%Y-%m-%dT%H:%M:%S%.f").to_string())),
        Kind::Timestamptz => {
            map::<DateTime<Utc>>(raw, |t| Value::String(t.to_rfc3339_opts(chrono_secs_format(), true)))
        }
        Kind::Inet => map::<IpNetwork>(raw, |n| Value::String(n.to_string())),
        _ => Ok(Value::String("<array value: cast it to text in the query, e.g. column::text>".into())),
    }
}

/// A `numeric` in its binary form as Postgres prints it, with its own scale (`1.50`
/// stays `1.50`; a decimal type would lose or pad the trailing zeros).
fn numeric_text(bytes: &[u8]) -> Result<String, sqlx::error::BoxDynError> {
    let word = |i: usize| -> Result<i16, sqlx::error::BoxDynError> {
        let b = bytes.get(2 * i..2 * i + 2).ok_or("numeric value too short")?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    };
    let (ndigits, weight, sign, dscale) =
        (word(0)? as usize, word(1)? as i32, word(2)? as u16, word(3)?.max(0) as usize);
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digits = (0..ndigits).map(|i| word(4 + i)).collect::<Result<Vec<_>, _>>()?;
    // Base-10000 digits; digit i is worth 10000^(weight - i).
    let mut int_part = String::new();
    for pos in 0..=weight.max(-1) {
        let d = digits.get(pos as usize).copied().unwrap_or(0);
        if int_part.is_empty() {
            if d != 0 {
                int_part = d.to_string();
            }
        } else {
            int_part += &format!("{d:04}");
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    let mut frac = String::new();
    let mut pos = weight + 1;
    while frac.len() < dscale {
        let d = if pos < 0 { 0 } else { digits.get(pos as usize).copied().unwrap_or(0) };
        frac += &format!("{d:04}");
        pos += 1;
    }
    frac.truncate(dscale);
    let sign = if sign == 0x4000 { "-" } else { "" };
    Ok(if dscale > 0 { format!("{sign}{int_part}.{frac}") } else { format!("{sign}{int_part}") })
}

/// An interval as ISO 8601 (`P1Y2M3DT4H5M6.5S`); Postgres keeps months, days and
/// microseconds apart, and so does this.
fn iso_duration(i: &PgInterval) -> String {
    let mut out = String::from("P");
    let (years, months) = (i.months / 12, i.months % 12);
    if years != 0 {
        out += &format!("{years}Y");
    }
    if months != 0 {
        out += &format!("{months}M");
    }
    if i.days != 0 {
        out += &format!("{}D", i.days);
    }
    let micros = i.microseconds;
    if micros != 0 {
        out.push('T');
        let (hours, rest) = (micros / 3_600_000_000, micros % 3_600_000_000);
        let (minutes, rest) = (rest / 60_000_000, rest % 60_000_000);
        if hours != 0 {
            out += &format!("{hours}H");
        }
        if minutes != 0 {
            out += &format!("{minutes}M");
        }
        if rest != 0 {
            let secs = rest as f64 / 1e6;
            out += &format!("{secs}S");
        }
    }
    if out == "P" {
        out += "T0S";
    }
    out
}

/// Binds `params` to the statement's `$1..$n`, each by the type the server inferred.
pub fn bind_all(types: &[PgTypeInfo], params: &[Value]) -> Result<PgArguments, String> {
    if types.len() != params.len() {
        return Err(format!(
            "`params`: the statement has {} parameter{} ($1..${}), {} given",
            types.len(),
            if types.len() == 1 { "" } else { "s" },
            types.len(),
            params.len()
        ));
    }
    let mut args = PgArguments::default();
    for (i, (ty, value)) in types.iter().zip(params).enumerate() {
        bind(&mut args, ty, value).map_err(|e| format!("`params[{i}]` (${}, {}): {e}", i + 1, ty.name()))?;
    }
    Ok(args)
}

fn bind(args: &mut PgArguments, ty: &PgTypeInfo, value: &Value) -> Result<(), String> {
    if value.is_null() {
        // NULL's bytes are the same for every type.
        return push(args, None::<String>);
    }
    match Kind::of(ty) {
        Kind::Bool => {
            let b = match value {
                Value::Bool(b) => *b,
                Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return Err("expected true or false".into()),
            };
            push(args, b)
        }
        Kind::Int2 => push(args, i16::try_from(integer(value)?).map_err(|_| "out of range for int2")?),
        Kind::Int4 => push(args, i32::try_from(integer(value)?).map_err(|_| "out of range for int4")?),
        Kind::Int8 => push(args, integer(value)?),
        Kind::Oid => push(args, Oid(u32::try_from(integer(value)?).map_err(|_| "out of range for oid")?)),
        Kind::Float4 => push(args, number(value)? as f32),
        Kind::Float8 => push(args, number(value)?),
        Kind::Numeric => push(args, decimal(value)?),
        Kind::Text | Kind::Label => {
            let text = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            push(args, Label(text))
        }
        Kind::Json => push(args, Json(value.clone())),
        Kind::Uuid => {
            let u: Uuid = text(value)?.parse().map_err(|e| format!("not a UUID: {e}"))?;
            push(args, u)
        }
        Kind::Bytea => {
            let bytes = BASE64.decode(text(value)?).map_err(|e| format!("expected base64: {e}"))?;
            push(args, bytes)
        }
        Kind::Date => push(args, date(value)?),
        Kind::Timestamp => push(args, timestamp(value)?),
        Kind::Timestamptz => push(args, timestamptz(value)?),
        Kind::Array(elem) => bind_array(args, &elem, value),
        _ => Err(format!(
            "cannot bind this type directly; pass text and cast it in the SQL (e.g. $n::text::{})",
            ty.name()
        )),
    }
}

fn push<'q, T>(args: &mut PgArguments, value: T) -> Result<(), String>
where
    T: sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> + 'q,
{
    args.add(value).map_err(|e| e.to_string())
}

fn bind_array(args: &mut PgArguments, elem: &Kind, value: &Value) -> Result<(), String> {
    let Value::Array(items) = value else { return Err("expected a JSON array".into()) };
    let r = match elem {
        Kind::Int4 => args.add(items.iter().map(|v| integer(v).map(|i| i as i32)).collect::<Result<Vec<_>, _>>()?),
        Kind::Int8 => args.add(items.iter().map(integer).collect::<Result<Vec<_>, _>>()?),
        Kind::Float8 => args.add(items.iter().map(number).collect::<Result<Vec<_>, _>>()?),
        Kind::Bool => {
            args.add(items.iter().map(|v| v.as_bool().ok_or("expected booleans")).collect::<Result<Vec<_>, _>>()?)
        }
        Kind::Text => args.add(
            items.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect::<Vec<_>>(),
        ),
        Kind::Uuid => args.add(
            items.iter().map(|v| text(v)?.parse::<Uuid>().map_err(|e| e.to_string())).collect::<Result<Vec<_>, _>>()?,
        ),
        Kind::Numeric => args.add(items.iter().map(decimal).collect::<Result<Vec<_>, _>>()?),
        Kind::Date => args.add(items.iter().map(date).collect::<Result<Vec<_>, _>>()?),
        Kind::Timestamp => args.add(items.iter().map(timestamp).collect::<Result<Vec<_>, _>>()?),
        Kind::Timestamptz => args.add(items.iter().map(timestamptz).collect::<Result<Vec<_>, _>>()?),
        _ => return Err("arrays of this element type cannot be bound; pass text and cast it in the SQL".into()),
    };
    r.map_err(|e| e.to_string())
}

/// Whether `value` binds as a `ty` (the same conversion as the real binding).
pub fn check_bind(ty: &PgTypeInfo, value: &Value) -> Result<(), String> {
    bind(&mut PgArguments::default(), ty, value)
}

fn decimal(value: &Value) -> Result<BigDecimal, String> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return Err("expected a number or a decimal string".into()),
    };
    text.trim().parse().map_err(|_| format!("`{text}` is not a decimal number"))
}

fn date(value: &Value) -> Result<NaiveDate, String> {
    text(value)?.parse().map_err(|e| format!("expected YYYY-MM-DD: {e}"))
}

fn timestamp(value: &Value) -> Result<NaiveDateTime, String> {
    let s = text(value)?;
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .map_err(|e| format!("expected YYYY-MM-DDTHH:MM:SS: {e}"))
}

fn timestamptz(value: &Value) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text(value)?)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("expected an RFC 3339 timestamp with offset: {e}"))
}

fn integer(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) => n.as_i64().ok_or_else(|| format!("expected an integer, got {n}")),
        Value::String(s) => s.trim().parse().map_err(|_| format!("expected an integer, got \"{s}\"")),
        other => Err(format!("expected an integer, got {other}")),
    }
}

fn number(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("expected a number, got {n}")),
        Value::String(s) => s.trim().parse().map_err(|_| format!("expected a number, got \"{s}\"")),
        other => Err(format!("expected a number, got {other}")),
    }
}

fn text(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| format!("expected a string, got {value}"))
}

/// Text sent as its bytes, for every type whose binary form is its text (text, varchar,
/// enums, ...): `String`'s encoder would tell sqlx the type is `text`.
#[derive(Debug)]
struct Label(String);

impl sqlx::Type<Postgres> for Label {
    fn type_info() -> PgTypeInfo {
        <String as sqlx::Type<Postgres>>::type_info()
    }
    fn compatible(_: &PgTypeInfo) -> bool {
        true
    }
}

impl sqlx::Encode<'_, Postgres> for Label {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        buf.extend_from_slice(self.0.as_bytes());
        Ok(sqlx::encode::IsNull::No)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_iso_8601() {
        let i = PgInterval { months: 14, days: 3, microseconds: 3_723_500_000 };
        assert_eq!(iso_duration(&i), "P1Y2M3DT1H2M3.5S");
        assert_eq!(iso_duration(&PgInterval { months: 0, days: 0, microseconds: 0 }), "PT0S");
    }

    #[test]
    fn numerics_keep_their_own_scale() {
        // 1.50: one digit (1) at weight 0, one (5000) at weight -1, scale 2.
        let bytes = [0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0x13, 0x88];
        assert_eq!(numeric_text(&bytes).expect("numeric"), "1.50");
        // -12345678.9: digits 1234, 5678, 9000 at weights 1, 0, -1; scale 1.
        let bytes = [0, 3, 0, 1, 0x40, 0, 0, 1, 0x04, 0xd2, 0x16, 0x2e, 0x23, 0x28];
        assert_eq!(numeric_text(&bytes).expect("numeric"), "-12345678.9");
        // 0.0001: one digit (1) at weight -1, scale 4.
        let bytes = [0, 1, 0xff, 0xff, 0, 0, 0, 4, 0, 1];
        assert_eq!(numeric_text(&bytes).expect("numeric"), "0.0001");
    }

    #[test]
    fn non_finite_floats_become_strings() {
        assert_eq!(float(f64::NAN), Value::String("NaN".into()));
        assert_eq!(float(f64::NEG_INFINITY), Value::String("-Infinity".into()));
        assert_eq!(float(1.5), serde_json::json!(1.5));
    }
}
