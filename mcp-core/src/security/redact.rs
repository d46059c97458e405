//! Redaction, one place for the audit trail and every connector: which names hold secrets
//! ([`is_secret_name`]), which shapes of text carry one whatever their name ([`redact_text`]:
//! passwords in URLs, `Bearer`/`Basic` credentials, `--token=x` and `--password x`, JWTs,
//! PEM private keys, `password=x` in connection strings, `X-Api-Key: x` headers), and the
//! one [`PLACEHOLDER`] that takes their place.
//!
//! A name is cut into lowercase parts at `-`, `_`, `.`, spaces and other punctuation, at
//! camelCase and at letter/digit boundaries (`X-Api-Key`, `x_api_key` and `xApiKey` are all
//! `x` `api` `key`), and is secret when its parts match one of the words below. Deciding by
//! whole parts keeps `author`, `tokenizer`, `keyboard` and `max_tokens` in clear.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde_json::Value;

/// What replaces a secret, everywhere (the audit trail has always written this one).
pub const PLACEHOLDER: &str = "[REDACTED]";

/// The placeholder for a value that must stay comparable without being shown: the one
/// [`PLACEHOLDER`] spelling with the value's length and the first 4 bytes of its
/// HMAC-SHA256 under `key` (`[REDACTED: 7 bytes, hmac 1a2b3c4d]`), so equal values look
/// equal under one key and a changed value shows, while a short value cannot be guessed
/// by hashing candidates without the key.
pub fn keyed_placeholder(value: &[u8], key: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    // HMAC takes a key of any length, so this never falls back in practice.
    let digest = match <Hmac<sha2::Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(value);
            mac.finalize().into_bytes().iter().take(4).map(|b| format!("{b:02x}")).collect::<String>()
        }
        Err(_) => "????????".into(),
    };
    let open = PLACEHOLDER.strip_suffix(']').unwrap_or(PLACEHOLDER);
    format!("{open}: {} bytes, hmac {digest}]", value.len())
}

/// Words that make a name secret where a part of it ends with them: `password` in
/// `password`, `db_password`, `dbPassword` and `DBPASSWORD`. A word of two parts matches
/// with any separator or none: `api key` is `api_key`, `x-api-key`, `apiKey` and `APIKEY`.
const ENDINGS: &[&str] = &[
    "password",
    "passwords",
    "passwd",
    "passphrase",
    "passcode",
    "secret",
    "secrets",
    "token",
    "authorization",
    "credential",
    "credentials",
    "cookie",
    "cookies",
    "api key",
    "private key",
    "access key",
    "secret key",
    "signing key",
    "encryption key",
    "master key",
    "session key",
    "session id",
    "connection string",
    "connstr",
];

/// Words that make a name secret only as whole parts: `pass` in `db_pass` but not in
/// `bypass`, `auth` in `basic_auth` but not in `author`, `pwd` but not `oldpwd`.
const WHOLE_PARTS: &[&str] = &["pwd", "pass", "auth", "bearer", "dsn", "creds"];

/// Rule `k` is `ENDINGS[k]`, then `WHOLE_PARTS[k - ENDINGS.len()]`.
const RULES: usize = ENDINGS.len() + WHOLE_PARTS.len();

/// For the last two letters of a part (each `& 31`), the rules whose word ends with them
/// (bit `k`: rule `k`), so that a part is compared only with the words that can end it: most
/// parts (`message`, `query`, `name`) with none. A part of one letter (or a letter after a
/// separator) looks up its letter alone, in row 0.
static BY_LAST_TWO: [u32; 32 * 32] = {
    assert!(RULES <= 32, "one bit per rule");
    let mut table = [0u32; 32 * 32];
    let mut k = 0;
    while k < RULES {
        let word = if k < ENDINGS.len() { ENDINGS[k] } else { WHOLE_PARTS[k - ENDINGS.len()] };
        let bytes = word.as_bytes();
        let (before, last) = (bytes[bytes.len() - 2], bytes[bytes.len() - 1]);
        assert!(before != b' ', "a word ends with two letters");
        table[(before as usize & 31) * 32 + (last as usize & 31)] |= 1 << k;
        table[last as usize & 31] |= 1 << k;
        k += 1;
    }
    table
};

/// Names the operator added (`--redact-names`), each its parts joined, matched as whole parts.
static EXTRA: OnceLock<Box<[Box<[u8]>]>> = OnceLock::new();

/// Adds names whose values are redacted everywhere in this process, besides the built-in
/// ones (the servers' `--redact-names`). Set once: a second call must give the same names.
pub fn set_extra_names<S: AsRef<str>>(names: &[S]) -> Result<(), String> {
    let extra: Box<[Box<[u8]>]> = names
        .iter()
        .map(|n| -> Box<[u8]> {
            n.as_ref().bytes().filter(u8::is_ascii_alphanumeric).map(|b| b.to_ascii_lowercase()).collect()
        })
        .filter(|n| !n.is_empty())
        .collect();
    if extra.is_empty() {
        return Ok(());
    }
    let set = EXTRA.get_or_init(|| extra.clone());
    if *set == extra { Ok(()) } else { Err("the names to redact were already set, to other names".into()) }
}

/// Whether a field, variable, header or flag of this name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    secret_in(name.as_bytes(), EXTRA.get().map_or(&[], |e| e))
}

/// Whether a field of this name is redacted: by its name, or declared `sensitive` by a tool.
pub fn is_secret_field(name: &str, sensitive: &[String]) -> bool {
    is_secret_name(name) || sensitive.iter().any(|s| s == name)
}

/// Whether `arg` is a command-line flag naming a secret, whose value is the next argument:
/// `--password`, `-token`, `--api-key` (not `--token=x`, which [`redact_text`] handles).
pub fn is_secret_flag(arg: &str) -> bool {
    let Some(name) = arg.strip_prefix('-') else { return false };
    let name = name.strip_prefix('-').unwrap_or(name);
    !name.is_empty() && !name.bytes().any(|b| b == b'=' || b.is_ascii_whitespace()) && is_secret_name(name)
}

/// [`is_secret_name`] with the operator's names `extra`. One pass, no allocation (this runs
/// for every argument name of every audited request): a byte's kind decides whether a part
/// ends before it, a few instructions a byte; only where one ends is it compared, backwards,
/// with the words that end in its letter.
fn secret_in(name: &[u8], extra: &[Box<[u8]>]) -> bool {
    // The usual name (`query`, `message`) is one lowercase part.
    if name.iter().all(u8::is_ascii_lowercase) {
        return !name.is_empty() && ends_secret(name, name.len(), extra);
    }
    let mut before = OTHER;
    for (i, &b) in name.iter().enumerate() {
        let kind = KIND[usize::from(b)];
        // Most bytes go on a part of their own kind (`message`): nothing to decide.
        if kind == before && kind != UPPER {
            continue;
        }
        let ends = before != OTHER
            && if kind == before {
                // Two capitals: a part ends between them when a lowercase letter follows (`API|Key`).
                kind_at(name, i + 1) == LOWER
            } else {
                !(before == UPPER && kind == LOWER)
            };
        if ends && ends_secret(name, i, extra) {
            return true;
        }
        before = kind;
    }
    before != OTHER && ends_secret(name, name.len(), extra)
}

/// Whether the part of `name` that ends at `end` ends with a secret word.
#[inline]
fn ends_secret(name: &[u8], end: usize, extra: &[Box<[u8]>]) -> bool {
    // A letter's `& 31` is the same in either case; a digit's meets a letter's, which only
    // adds a candidate, compared in full below.
    let last = usize::from(name[end - 1] & 31);
    let before = match end.checked_sub(2).map(|i| name[i]) {
        Some(b) if b.is_ascii_alphanumeric() => usize::from(b & 31),
        _ => 0,
    };
    let rules = BY_LAST_TWO[before * 32 + last];
    (rules != 0 || !extra.is_empty()) && compare_words(name, end, rules, extra)
}

/// Whether one of the words of `rules` or `extra` ends the part of `name` that ends at `end`.
#[inline(never)]
fn compare_words(name: &[u8], end: usize, mut rules: u32, extra: &[Box<[u8]>]) -> bool {
    while rules != 0 {
        let k = rules.trailing_zeros() as usize;
        rules &= rules - 1;
        let (word, whole) =
            if k < ENDINGS.len() { (ENDINGS[k], false) } else { (WHOLE_PARTS[k - ENDINGS.len()], true) };
        if let Some(start) = ends_with_word(name, end, word.as_bytes())
            && (!whole || starts_part(name, start))
        {
            return true;
        }
    }
    extra.iter().any(|word| ends_with_word(name, end, word).is_some_and(|start| starts_part(name, start)))
}

/// Where `word` (lowercase, its spaces ignored) starts if it ends at `end` of `name`,
/// ignoring ASCII case and the separators between parts.
fn ends_with_word(name: &[u8], end: usize, word: &[u8]) -> Option<usize> {
    let mut at = end;
    for &w in word.iter().rev().filter(|&&w| w != b' ') {
        while at > 0 && !name[at - 1].is_ascii_alphanumeric() && at < end {
            at -= 1;
        }
        if at == 0 || name[at - 1].to_ascii_lowercase() != w {
            return None;
        }
        at -= 1;
    }
    Some(at)
}

/// The kinds of bytes a name is cut by.
const OTHER: u8 = 0;
const LOWER: u8 = 1;
const UPPER: u8 = 2;
const DIGIT: u8 = 3;

static KIND: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            b'a'..=b'z' => LOWER,
            b'A'..=b'Z' => UPPER,
            b'0'..=b'9' => DIGIT,
            _ => OTHER,
        };
        b += 1;
    }
    table
};

fn kind_at(name: &[u8], i: usize) -> u8 {
    name.get(i).map_or(OTHER, |&b| KIND[usize::from(b)])
}

/// Whether a part that goes on with a byte of kind `a` (a letter or digit) ends before one of
/// kind `b` (followed by one of kind `after`): at a separator, at a lower-to-upper change
/// (`api|Key`), between letters and digits, or before the last capital of a run that goes
/// on in lowercase (`API|Key`).
#[inline]
fn ends_part(a: u8, b: u8, after: impl FnOnce() -> u8) -> bool {
    b == OTHER || (a != b && !(a == UPPER && b == LOWER)) || (a == UPPER && b == UPPER && after() == LOWER)
}

/// Whether a part starts at `i` of `name`.
fn starts_part(name: &[u8], i: usize) -> bool {
    let (a, b) = (if i == 0 { OTHER } else { kind_at(name, i - 1) }, kind_at(name, i));
    b != OTHER && (a == OTHER || ends_part(a, b, || kind_at(name, i + 1)))
}

/// Parts of a setting's name that mark its value secret in environment variables and
/// configuration values, besides [`is_secret_name`]'s words: there `STRIPE_KEY`,
/// `stripeKey` or a bare `KEY` is a credential far more often than not, and a setting
/// masked by mistake costs less than a key shown. (Argument names in the audit trail keep
/// the narrower rule, so that `primary_key` stays readable.)
const SETTING_PARTS: &[&str] = &["key", "private", "signature", "salt"];

/// Whether an environment variable or a configuration value (Helm values) of this name
/// holds a secret: [`is_secret_name`], or a whole part among [`SETTING_PARTS`].
pub fn is_secret_setting_name(name: &str) -> bool {
    is_secret_name(name) || name_parts(name).any(|part| SETTING_PARTS.contains(&part.as_str()))
}

/// The lowercase parts of a name, cut at punctuation, camelCase and letter/digit changes.
fn name_parts(name: &str) -> impl Iterator<Item = String> + '_ {
    let bytes = name.as_bytes();
    let starts: Vec<usize> = (0..bytes.len()).filter(|&i| starts_part(bytes, i)).collect();
    let ends = starts.iter().skip(1).copied().chain(std::iter::once(bytes.len())).collect::<Vec<_>>();
    starts.into_iter().zip(ends).map(move |(a, b)| {
        bytes[a..b]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(|c| char::from(c.to_ascii_lowercase()))
            .collect()
    })
}

/// `NAME=value` (an environment entry) with the value redacted when the name is secret
/// ([`is_secret_setting_name`]), and secrets inside it ([`redact_text`]) otherwise.
pub fn redact_env(entry: &str) -> String {
    match entry.split_once('=') {
        Some((name, _)) if is_secret_setting_name(name) => format!("{name}={PLACEHOLDER}"),
        Some((name, value)) => format!("{name}={}", redact_text(value)),
        None => entry.to_owned(),
    }
}

/// A copy of `value` with the values of secret fields (by name, or declared `sensitive`)
/// replaced, secrets inside strings redacted ([`redact_text`]), and in arrays the argument
/// after a secret flag (`["--password", "x"]`) replaced.
pub fn redact_json(value: &Value, sensitive: &[String]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret_field(k, sensitive) {
                        Value::String(PLACEHOLDER.into())
                    } else {
                        redact_json(v, sensitive)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => {
            let mut after_flag = false;
            let items = items.iter().map(|v| {
                if std::mem::take(&mut after_flag) && is_flag_value(v) {
                    return Value::String(PLACEHOLDER.into());
                }
                after_flag = value_is_secret_flag(v);
                redact_json(v, sensitive)
            });
            Value::Array(items.collect())
        }
        Value::String(s) => match redact_text(s) {
            Cow::Borrowed(_) => value.clone(),
            Cow::Owned(s) => Value::String(s),
        },
        other => other.clone(),
    }
}

/// Whether an array item is a secret flag, whose next item is its value.
pub fn value_is_secret_flag(value: &Value) -> bool {
    value.as_str().is_some_and(is_secret_flag)
}

/// Whether an array item can be the value of the flag before it (a string or a number).
pub fn is_flag_value(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_))
}

/// The bytes where a secret's shape may show (`@`: URL userinfo, `=`: `key=value`, `:`:
/// `Header: value`, `J`: `eyJ`, a JWT, `-`: a PEM block or a flag, `B`/`b`: `Bearer` or
/// `Basic`). A text without any is returned as it is, after one pass.
static IS_TRIGGER: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < TRIGGERS.len() {
        table[TRIGGERS[i] as usize] = true;
        i += 1;
    }
    table
};
const TRIGGERS: &[u8] = b"@=:J-Bb";

/// Where the first trigger byte of `bytes` is. Sixteen bytes at a time, by compares the
/// compiler makes vector instructions of (most texts have none, and are passed over at a
/// byte a cycle or better); the table then finds the byte in the chunk that holds one.
fn first_trigger(bytes: &[u8]) -> Option<usize> {
    // The bytes of TRIGGERS, spelt out for the compiler.
    let is_trigger = |b: u8| u8::from(matches!(b, b'@' | b'=' | b':' | b'J' | b'-' | b'B' | b'b'));
    let (chunks, rest) = bytes.as_chunks::<16>();
    let in_table = |part: &[u8]| part.iter().position(|&b| IS_TRIGGER[usize::from(b)]);
    for (n, chunk) in chunks.iter().enumerate() {
        if chunk.iter().fold(0, |hit, &b| hit | is_trigger(b)) != 0 {
            return in_table(chunk).map(|at| n * 16 + at);
        }
    }
    in_table(rest).map(|at| chunks.len() * 16 + at)
}

/// `text` with the secrets it carries replaced by [`PLACEHOLDER`], whatever the name of the
/// field holding it: the password of a URL (`scheme://user:[REDACTED]@host`), the credential
/// after `Bearer` or `Basic`, the value of a secret `key=value` (`password=x`,
/// `--token=x`) or header (`X-Api-Key: x`), the argument after a secret flag (`--password x`),
/// JWTs, and the body of PEM private keys. Borrowed, without work beyond one scan, when there
/// is nothing to redact.
pub fn redact_text(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let Some(first) = first_trigger(bytes) else { return Cow::Borrowed(text) };
    let spans = secret_spans(bytes, first);
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end) in spans {
        // Spans start and end next to ASCII bytes: always character boundaries.
        if let (Some(before), true) = (text.get(at..start), text.is_char_boundary(end)) {
            out.push_str(before);
            out.push_str(PLACEHOLDER);
            at = end;
        }
    }
    out.push_str(text.get(at..).unwrap_or_default());
    Cow::Owned(out)
}

/// The byte ranges of the secrets in `text`, in order and apart, from the trigger byte at
/// `from` on. The scan goes from trigger to trigger ([`first_trigger`]); the word a trigger
/// is in starts after the last white space before it, looked for back to the previous
/// trigger only, so that each byte is looked at once or twice.
fn secret_spans(text: &[u8], from: usize) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let (mut i, mut word, mut looked) = (from, 0, 0);
    loop {
        if let Some(space) = text[looked..i].iter().rposition(u8::is_ascii_whitespace) {
            word = looked + space + 1;
        }
        looked = i;
        let b = text[i];
        let found = match b {
            b'@' => url_password(text, word, i),
            b'=' => key_value(text, word, i),
            b':' => header_value(text, word, i),
            b'J' => jwt(text, i),
            b'-' => pem_body(text, i).or_else(|| after_word(text, word, i)),
            _ => after_word(text, word, i),
        };
        // Nothing may start inside the span before.
        let floor = spans.last().map_or(0, |s| s.1);
        let next = match found {
            Some((start, end)) if start >= floor && start < end => {
                spans.push((start, end));
                // A word resumes after the span (which may hold white space: a quoted value).
                (word, looked) = (end, end);
                end.max(i + 1)
            }
            _ => i + 1,
        };
        match text.get(next..).and_then(first_trigger) {
            Some(at) => i = next + at,
            None => return spans,
        }
    }
}

/// Whether `b` ends an unquoted value or token.
fn ends_value(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b',' | b';' | b'&' | b')' | b'}' | b']' | b'<' | b'>')
}

/// The end of the token starting at `start`.
fn token_end(text: &[u8], start: usize) -> usize {
    text[start..].iter().position(|&b| ends_value(b)).map_or(text.len(), |n| start + n)
}

/// A value starting at `start`: quoted (up to its closing quote) or a token.
fn value_at(text: &[u8], start: usize) -> Option<(usize, usize)> {
    match text.get(start) {
        Some(&q @ (b'"' | b'\'')) => {
            let end = text[start + 1..].iter().position(|&b| b == q).map_or(text.len(), |n| start + 1 + n);
            Some((start + 1, end))
        }
        Some(_) => Some((start, token_end(text, start))),
        None => None,
    }
}

/// The name ending at `end` (letters, digits, `_`, `-`, `.`), not before `word`.
fn name_before(text: &[u8], word: usize, end: usize) -> &[u8] {
    let start = text[word..end]
        .iter()
        .rposition(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')))
        .map_or(word, |p| word + p + 1);
    &text[start..end]
}

fn secret_bytes(name: &[u8]) -> bool {
    std::str::from_utf8(name).is_ok_and(is_secret_name)
}

/// `scheme://user:password@host`, at its `@`: the password. The authority's last `@` ends
/// it, so that a password holding an `@` is redacted whole.
fn url_password(text: &[u8], word: usize, at: usize) -> Option<(usize, usize)> {
    let slash = text[word..at].iter().rposition(|&b| b == b'/').map(|p| word + p)?;
    if slash < 2 || &text[slash - 2..=slash] != b"://" {
        return None;
    }
    let userinfo = slash + 1;
    let authority_end = text[userinfo..]
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#') || ends_value(b))
        .map_or(text.len(), |n| userinfo + n);
    let last_at = text[userinfo..authority_end].iter().rposition(|&b| b == b'@').map(|p| userinfo + p)?;
    let colon = text[userinfo..last_at].iter().position(|&b| b == b':').map(|p| userinfo + p)?;
    Some((colon + 1, last_at))
}

/// `name=value` at its `=`: the value, when the name is secret (`password=x`, `--token=x`,
/// `DB_PASSWORD=x`, `?api_key=x`).
fn key_value(text: &[u8], word: usize, eq: usize) -> Option<(usize, usize)> {
    let name = name_before(text, word, eq);
    if name.is_empty() || !secret_bytes(name) {
        return None;
    }
    value_at(text, eq + 1).filter(|(s, e)| s < e)
}

/// `Name: value` at its `:`: the rest of the line, when the name is secret (`X-Api-Key: x`,
/// `password: x`); `"name": value` (JSON inside a string): the value.
fn header_value(text: &[u8], word: usize, colon: usize) -> Option<(usize, usize)> {
    let quoted = colon > word && matches!(text[colon - 1], b'"' | b'\'');
    let name_end = if quoted { colon - 1 } else { colon };
    let name = name_before(text, word.min(name_end), name_end);
    if name.is_empty() || !secret_bytes(name) {
        return None;
    }
    let start = colon + 1 + text[colon + 1..].iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    if quoted {
        return value_at(text, start).filter(|(s, e)| s < e);
    }
    if start == colon + 1 {
        // `scheme:x`, `a:b`: not a header.
        return None;
    }
    // A header quoted whole (`-H 'X-Api-Key: x'`) ends at its closing quote.
    let opener = (name_end - name.len()).checked_sub(1).map(|p| text[p]).filter(|&b| b == b'"' || b == b'\'');
    let end = text[start..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r' || Some(b) == opener)
        .map_or(text.len(), |n| start + n);
    (start < end).then_some((start, end))
}

/// A JWT (three or more base64url parts, the first `eyJ`), at its `J`.
fn jwt(text: &[u8], j: usize) -> Option<(usize, usize)> {
    let start = j.checked_sub(2)?;
    let b64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if &text[start..j] != b"ey" || (start > 0 && b64url(text[start - 1])) {
        return None;
    }
    let len = text[start..].iter().position(|&b| !(b64url(b) || b == b'.')).unwrap_or(text.len() - start);
    let token = &text[start..start + len];
    let mut parts = token.split(|&b| b == b'.');
    let (header, payload) = (parts.next()?, parts.next()?);
    (header.len() >= 10 && !payload.is_empty() && parts.next().is_some()).then_some((start, start + len))
}

/// `-----BEGIN … PRIVATE KEY-----`, at its first `-`: the body, up to `-----END` (or the end
/// of the text, for a block cut short). Certificates and public keys are left alone.
fn pem_body(text: &[u8], dash: usize) -> Option<(usize, usize)> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    if !text[dash..].starts_with(BEGIN) {
        return None;
    }
    let label_start = dash + BEGIN.len();
    let label_len = text[label_start..].windows(5).position(|w| w == b"-----")?;
    let label = &text[label_start..label_start + label_len];
    if !label.windows(11).any(|w| w == b"PRIVATE KEY") {
        return None;
    }
    let body = label_start + label_len + 5;
    let end = text[body..].windows(8).position(|w| w == b"-----END").map_or(text.len(), |n| body + n);
    (body < end).then_some((body, end))
}

/// At the first byte of a word (`B`, `b` or `-`): the next token, when the word is
/// `Bearer`, `Basic` (and the token looks like base64) or a secret flag (`--password x`).
fn after_word(text: &[u8], word: usize, first: usize) -> Option<(usize, usize)> {
    // The word starts here, or after the quote or punctuation that opens it.
    if first > word && text[first - 1].is_ascii_alphanumeric() {
        return None;
    }
    let len = text[first..].iter().position(u8::is_ascii_whitespace)?;
    let current = &text[first..first + len];
    let bearer = current.eq_ignore_ascii_case(b"bearer");
    let basic = current.eq_ignore_ascii_case(b"basic");
    let flag = current[0] == b'-' && std::str::from_utf8(current).is_ok_and(is_secret_flag);
    if !(bearer || basic || flag) {
        return None;
    }
    let space = first + len;
    let start = space + text[space..].iter().take_while(|b| b.is_ascii_whitespace()).count();
    let (start, end) = value_at(text, start)?;
    if start >= end {
        return None;
    }
    if basic {
        // After `Basic`, only what looks like base64 of `user:password`, not prose.
        let token = &text[start..end];
        let base64 = token.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        let varied = token.iter().skip(1).any(|&b| !b.is_ascii_lowercase());
        if !(base64 && varied && token.len() >= 8) {
            return None;
        }
    }
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_names_are_found_by_whole_parts_in_any_spelling() {
        let secret = [
            "password",
            "PASSWORD",
            "db_password",
            "dbPassword",
            "DBPASSWORD",
            "user.password",
            "password2",
            "passwd",
            "pwd",
            "DB_PWD",
            "pass",
            "MYSQL_PASS",
            "passphrase",
            "secret",
            "clientSecret",
            "client_secret",
            "aws_secret_access_key",
            "token",
            "githubToken",
            "GITHUBTOKEN",
            "X-Auth-Token",
            "refresh_token",
            "token_count",
            "bearer",
            "auth",
            "basic_auth",
            "authorization",
            "Proxy-Authorization",
            "api-key",
            "api_key",
            "apikey",
            "apiKey",
            "APIKey",
            "x-api-key",
            "X-API-KEY",
            "x-n8n-api-key",
            "private-key",
            "privateKey",
            "access_key_id",
            "credential",
            "credentials",
            "creds",
            "Cookie",
            "set-cookie",
            "session_id",
            "sessionId",
            "SESSIONID",
            "session_key",
            "sentry_dsn",
            "DSN",
            "connection_string",
            "connStr",
            "signing_key",
            "SECRET_KEY_BASE",
        ];
        for name in secret {
            assert!(is_secret_name(name), "{name} is secret");
        }
        // The audit trail's list before this module, in any case and place.
        for name in ["password", "passwd", "secret", "token", "apikey", "api_key", "authorization", "credential"] {
            for name in [name.to_owned(), name.to_uppercase(), format!("db_{name}_v2"), format!("my{name}")] {
                assert!(is_secret_name(&name), "{name} is secret");
            }
        }
        let clear = [
            "",
            "message",
            "query",
            "namespace",
            "author",
            "authors",
            "tokenizer",
            "max_tokens",
            "tokens",
            "keyboard",
            "monkey",
            "key",
            "primary_key",
            "sort_key",
            "session",
            "session_count",
            "bypass",
            "passenger",
            "oldpwd",
            "secretary",
            "private",
            "passwor",
            "é",
            "-",
            "__",
        ];
        for name in clear {
            assert!(!is_secret_name(name), "{name} is not secret");
        }
    }

    #[test]
    fn operator_names_match_as_whole_parts() {
        let extra: Vec<Box<[u8]>> = vec![b"pin".to_vec().into(), b"internalid".to_vec().into()];
        for name in ["pin", "PIN", "user_pin", "pinCode", "internal-id", "InternalId"] {
            assert!(secret_in(name.as_bytes(), &extra), "{name}");
        }
        for name in ["spin", "pinion", "internal", "id"] {
            assert!(!secret_in(name.as_bytes(), &extra), "{name}");
        }
        assert!(!secret_in(b"pin", &[]));
    }

    #[test]
    fn secret_flags_are_flags_naming_secrets() {
        for flag in ["--password", "-password", "--api-key", "--token", "--DB-PASS"] {
            assert!(is_secret_flag(flag), "{flag}");
        }
        for arg in ["password", "--token=x", "-p", "--", "-", "--verbose", "--pass word"] {
            assert!(!is_secret_flag(arg), "{arg}");
        }
    }

    #[test]
    fn keyed_placeholders_are_stable_per_key_and_show_no_value() {
        let key = b"0123456789abcdef";
        let masked = keyed_placeholder(b"hunter2", key);
        assert!(masked.starts_with("[REDACTED: 7 bytes, hmac ") && masked.ends_with(']'), "{masked}");
        assert_eq!(masked.len(), "[REDACTED: 7 bytes, hmac 12345678]".len(), "{masked}");
        assert!(!masked.contains("hunter2"));
        assert_eq!(masked, keyed_placeholder(b"hunter2", key), "same value, same key: same text");
        assert_ne!(masked, keyed_placeholder(b"hunter3", key), "a changed value shows");
        assert_ne!(masked, keyed_placeholder(b"hunter2", b"another key 0123"), "the digest depends on the key");
        assert_eq!(keyed_placeholder(b"", key).split(',').next(), Some("[REDACTED: 0 bytes"));
    }

    fn redacted(text: &str) -> String {
        redact_text(text).into_owned()
    }

    #[test]
    fn secrets_inside_text_are_redacted_whatever_holds_them() {
        let cases = [
            ("postgres://u:s3cret@h:5432/db", "postgres://u:[REDACTED]@h:5432/db"),
            ("redis://:p@ss@h/0 and more", "redis://:[REDACTED]@h/0 and more"),
            ("see https://user@example.com/a@b", "see https://user@example.com/a@b"),
            ("postgres://h/db?user=u&password=x&ssl=1", "postgres://h/db?user=u&password=[REDACTED]&ssl=1"),
            ("host=h port=5432 password='a b' user=u", "host=h port=5432 password='[REDACTED]' user=u"),
            ("Server=h;User Id=sa;Password=x;", "Server=h;User Id=sa;Password=[REDACTED];"),
            ("Authorization: Bearer abc.def", "Authorization: [REDACTED]"),
            ("curl -H 'Authorization: Bearer abc' u", "curl -H 'Authorization: [REDACTED]' u"),
            ("Bearer abc", "Bearer [REDACTED]"),
            ("token: Bearer\tabc", "token: [REDACTED]"),
            ("Basic dXNlcjpwYXNz", "Basic [REDACTED]"),
            ("a basic example", "a basic example"),
            ("tool --token=abc --verbose", "tool --token=[REDACTED] --verbose"),
            ("tool --password hunter2 db", "tool --password [REDACTED] db"),
            ("--api-key \"k 1\" x", "--api-key \"[REDACTED]\" x"),
            ("DB_PASSWORD=hunter2", "DB_PASSWORD=[REDACTED]"),
            ("X-Api-Key: abc\nHost: h", "X-Api-Key: [REDACTED]\nHost: h"),
            ("{\"password\": \"x\", \"user\": \"u\"}", "{\"password\": \"[REDACTED]\", \"user\": \"u\"}"),
            ("t eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_-x end", "t [REDACTED] end"),
            ("eyJ alone, eyJabc.d", "eyJ alone, eyJabc.d"),
            (
                "k: -----BEGIN RSA PRIVATE KEY-----\nMIIE\nabc\n-----END RSA PRIVATE KEY-----\n",
                "k: -----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\n",
            ),
            ("-----BEGIN PRIVATE KEY-----\nMIIE cut", "-----BEGIN PRIVATE KEY-----[REDACTED]"),
            (
                "-----BEGIN CERTIFICATE-----\nMIIE\n-----END CERTIFICATE-----",
                "-----BEGIN CERTIFICATE-----\nMIIE\n-----END CERTIFICATE-----",
            ),
            ("https://x.io/a?b=c, time 12:30, a-b, x=1", "https://x.io/a?b=c, time 12:30, a-b, x=1"),
            ("author=me token=", "author=me token="),
        ];
        for (text, expected) in cases {
            assert_eq!(redacted(text), expected, "{text:?}");
        }
        assert!(matches!(redact_text("hello world: a=b"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_fast_scan_looks_for_the_trigger_bytes() {
        let long = |b: u8| format!("{}{}", "x".repeat(40), b as char);
        for b in 0..=127u8 {
            assert_eq!(first_trigger(long(b).as_bytes()), TRIGGERS.contains(&b).then_some(40), "{b}");
        }
    }

    #[test]
    fn any_text_is_scanned_without_panicking() {
        let pieces = [
            "://",
            "@",
            ":",
            ": ",
            "=",
            "'",
            "\"",
            " ",
            "\n",
            "\t",
            "eyJ",
            "eyJhbGciOiJIUzI1NiJ9",
            ".",
            "é",
            "😀",
            "-----BEGIN ",
            "PRIVATE KEY-----",
            "-----END",
            "-",
            "--",
            "password",
            "Bearer",
            "basic",
            "--token",
            "x",
            "AB",
        ];
        // A fixed pseudo-random sequence (xorshift): the same texts on every run.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..50_000 {
            let text: String = (0..1 + next(10)).map(|_| pieces[next(pieces.len())]).collect();
            let out = redact_text(&text);
            // Spans never overlap: each placeholder stands for at least one byte.
            assert!(out.len() <= text.len() * (PLACEHOLDER.len() + 1), "{text:?}");
        }
    }

    #[test]
    fn json_is_redacted_by_name_by_declaration_by_shape_and_after_flags() {
        let value = json!({
            "query": "select",
            "dsn": "x",
            "Token": "t",
            "pin": "1234",
            "url": "postgres://u:pw@h/db",
            "argv": ["tool", "--password", "hunter2", "--port", 5432, "--token", 99, "--user", "u"],
            "nested": [{"x-api-key": {"a": 1}}],
            "n": 1.5,
        });
        let expected = json!({
            "query": "select",
            "dsn": PLACEHOLDER,
            "Token": PLACEHOLDER,
            "pin": PLACEHOLDER,
            "url": "postgres://u:[REDACTED]@h/db",
            "argv": ["tool", "--password", PLACEHOLDER, "--port", 5432, "--token", PLACEHOLDER, "--user", "u"],
            "nested": [{"x-api-key": PLACEHOLDER}],
            "n": 1.5,
        });
        assert_eq!(redact_json(&value, &["pin".into()]), expected);
    }

    #[test]
    fn environment_entries_hide_secret_values_and_url_passwords() {
        assert_eq!(redact_env("DB_PASSWORD=hunter 2"), "DB_PASSWORD=[REDACTED]");
        assert_eq!(redact_env("API_KEY=x"), "API_KEY=[REDACTED]");
        assert_eq!(redact_env("DATABASE_URL=postgres://u:p@h/db"), "DATABASE_URL=postgres://u:[REDACTED]@h/db");
        assert_eq!(redact_env("PATH=/bin"), "PATH=/bin");
        assert_eq!(redact_env("NOVALUE"), "NOVALUE");
        // Settings named by a key are credentials more often than not.
        for name in ["STRIPE_KEY", "KEY", "stripeKey", "JWT_PRIVATE", "WEBHOOK_SIGNATURE", "PASSWORD_SALT"] {
            assert_eq!(redact_env(&format!("{name}=x")), format!("{name}={PLACEHOLDER}"), "{name}");
        }
        for name in ["KEYBOARD_LAYOUT", "MONKEY", "HOSTNAME", "TZ", "LANG"] {
            assert_eq!(redact_env(&format!("{name}=x")), format!("{name}=x"), "{name}");
        }
    }
}
