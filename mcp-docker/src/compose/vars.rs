//! Compose variable interpolation (`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?error}`, `${VAR?error}`, `${VAR:+other}`, `${VAR+other}`, `$$`) and the `.env`
//! file format, as the Compose Specification defines them.

use std::collections::BTreeMap;

/// The variables a file is interpolated with.
pub type Vars = BTreeMap<String, String>;

/// `text` with its variables replaced; an error names the variable (a `:?`/`?` one that
/// is missing, or a malformed `${...}`).
pub fn interpolate(text: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix('{') {
            let end = closing_brace(after).ok_or_else(|| format!("`${{{}`: no closing `}}`", clip(after)))?;
            out.push_str(&braced(&after[..end], vars)?);
            rest = &after[end + 1..];
        } else {
            let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            if len == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
                // A lone `$` stays, as compose leaves it.
                out.push('$');
            } else {
                out.push_str(vars.get(&rest[..len]).map_or("", String::as_str));
                rest = &rest[len..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// The index of the `}` closing a `${`, allowing nested `${...}` in defaults.
fn closing_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn braced(inner: &str, vars: &Vars) -> Result<String, String> {
    let len = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
    let (name, op) = inner.split_at(len);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("`${{{}}}`: not a variable name", clip(inner)));
    }
    let value = vars.get(name);
    let set = value.is_some();
    let non_empty = value.is_some_and(|v| !v.is_empty());
    let current = value.cloned().unwrap_or_default();
    let (kind, arg) = match op {
        "" => return Ok(current),
        _ if op.starts_with(":-") || op.starts_with(":?") || op.starts_with(":+") => op.split_at(2),
        _ if op.starts_with('-') || op.starts_with('?') || op.starts_with('+') => op.split_at(1),
        _ => return Err(format!("`${{{}}}`: unknown modifier `{}`", clip(inner), clip(op))),
    };
    let arg = || interpolate(arg, vars);
    match kind {
        ":-" => {
            if non_empty {
                Ok(current)
            } else {
                arg()
            }
        }
        "-" => {
            if set {
                Ok(current)
            } else {
                arg()
            }
        }
        ":+" => {
            if non_empty {
                arg()
            } else {
                Ok(String::new())
            }
        }
        "+" => {
            if set {
                arg()
            } else {
                Ok(String::new())
            }
        }
        ":?" | "?" => {
            if (kind == ":?" && non_empty) || (kind == "?" && set) {
                Ok(current)
            } else {
                let message = arg()?;
                Err(format!("required variable `{name}` is missing a value: {message}"))
            }
        }
        _ => unreachable!("the kinds are matched above"),
    }
}

/// Parses a `.env` / `env_file` text: `NAME=value` lines, `#` comments, blank lines,
/// an optional `export `, single quotes literal, double quotes with `\n` escapes. Values
/// are interpolated with the variables read so far and `vars` (as compose does).
pub fn parse_env_file(text: &str, vars: &Vars) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((name, value)) = line.split_once('=') else {
            return Err(format!("line {}: `{}` is not NAME=value", n + 1, clip(line)));
        };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
            return Err(format!("line {}: `{}` is not a variable name", n + 1, clip(name)));
        }
        let value = value.trim();
        let value = if let Some(v) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            v.to_string()
        } else {
            let v = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(v) => v.replace("\\n", "\n").replace("\\\"", "\""),
                // An unquoted value ends at ` #` (an inline comment).
                None => value.split(" #").next().unwrap_or("").trim_end().to_string(),
            };
            let mut scope = vars.clone();
            scope.extend(out.iter().cloned());
            interpolate(&v, &scope).map_err(|e| format!("line {}: {e}", n + 1))?
        };
        out.push((name.to_string(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn every_form_of_the_spec_is_interpolated() {
        let v = vars(&[("A", "a"), ("E", "")]);
        let i = |s: &str| interpolate(s, &v);
        assert_eq!(i("$A ${A} x$$y").as_deref(), Ok("a a x$y"));
        assert_eq!(i("${E:-d} ${E-d} ${U-d} ${U:-d}").as_deref(), Ok("d  d d"));
        assert_eq!(i("${A:+p} ${E:+p} ${E+p} ${U+p}").as_deref(), Ok("p  p "));
        assert_eq!(i("${U:-${A}-x}").as_deref(), Ok("a-x"));
        assert_eq!(i("cost: 5$").as_deref(), Ok("cost: 5$"));
        assert!(i("${U:?set U first}").is_err_and(|e| e.contains("`U`") && e.contains("set U first")));
        assert!(i("${E:?}").is_err());
        assert_eq!(i("${E?}").as_deref(), Ok(""));
        assert!(i("${A").is_err_and(|e| e.contains("closing")));
        assert!(i("${A/x}").is_err_and(|e| e.contains("modifier")));
        assert!(i("${}").is_err());
    }

    #[test]
    fn env_files_read_like_compose_reads_them() {
        let text = "# c\n\nexport A=1\nB='$A lit'\nC=\"x${A}\\ny\"\nD=v # note\nE=\n";
        let got = parse_env_file(text, &Vars::new()).expect("parses");
        let want = [("A", "1"), ("B", "$A lit"), ("C", "x1\ny"), ("D", "v"), ("E", "")];
        assert_eq!(got, want.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>());
        assert!(parse_env_file("novalue\n", &Vars::new()).is_err_and(|e| e.contains("line 1")));
    }
}
