//! Configuration helpers every connector uses: strict TOML files (an unknown key is an
//! error: a misspelt safety setting must stop the server, never be ignored), target
//! names, and secrets read from files or the environment that never print.

use std::path::Path;

use serde::de::DeserializeOwned;

/// Reads the TOML file `path` given by `flag` (`--databases-file`) into `T`. `T` should
/// be `#[serde(deny_unknown_fields)]` all the way down; errors name the flag, the file,
/// and the line and column.
pub fn read_toml<T: DeserializeOwned>(path: &Path, flag: &str) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{flag} {}: cannot read: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{flag} {}: {}", path.display(), e.to_string().trim_end()))
}

/// Whether `name` can name a target: 1 to 63 ASCII letters, digits, `_` and `-` (it
/// becomes a tool argument and a label value).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 63 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Checks every name of the targets a file or flags configure; the error names the
/// first bad one and what a name may hold. `what` is the target's noun (`database`).
pub fn check_target_names<'a>(what: &str, names: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    match names.into_iter().find(|n| !valid_name(n)) {
        Some(bad) => Err(format!("{what} name `{bad}`: use 1 to 63 letters, digits, `_` and `-`")),
        None => Ok(()),
    }
}

/// A value that must never be printed: its `Debug` form is a placeholder, and it has no
/// `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The trimmed contents of the file `path`; `what` names it in errors. An empty file
    /// is an error (an empty key would fail later, less clearly).
    pub fn from_file(path: &Path, what: &str) -> Result<Secret, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
        match text.trim() {
            "" => Err(format!("{what} {}: the file is empty", path.display())),
            value => Ok(Secret(value.to_string())),
        }
    }
    /// The trimmed value of the environment variable `name`, if it is set and not empty.
    pub fn from_env(name: &str) -> Result<Option<Secret>, String> {
        match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => Ok(Some(Secret(v.trim().to_string()))),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
        }
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(crate::security::redact::PLACEHOLDER)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        #[allow(dead_code)]
        read_only: bool,
        #[allow(dead_code)]
        hosts: BTreeMap<String, String>,
    }

    #[test]
    fn unknown_keys_are_errors_naming_flag_file_and_line() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.toml");
        std::fs::write(&path, "hosts = {}\nread_olny = true\n").expect("write");
        let e = read_toml::<File>(&path, "--hosts-file").expect_err("unknown key");
        assert!(e.starts_with("--hosts-file ") && e.contains("line 2") && e.contains("read_olny"), "{e}");
        let e = read_toml::<File>(&dir.path().join("missing.toml"), "--hosts-file").expect_err("missing");
        assert!(e.contains("cannot read"), "{e}");
    }

    #[test]
    fn names_are_short_plain_words() {
        for good in ["main", "db_2", "eu-west-1", &"a".repeat(63)] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "a b", "a/b", "é", "a.b", &"a".repeat(64)] {
            assert!(!valid_name(bad), "{bad}");
        }
        let e = check_target_names("database", ["ok", "not ok"]).expect_err("bad");
        assert!(e.contains("`not ok`"), "{e}");
    }

    #[test]
    fn secrets_never_print_and_empty_files_are_refused() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("key");
        std::fs::write(&path, "  \n").expect("write");
        assert!(Secret::from_file(&path, "--api-key-file").expect_err("empty").contains("empty"));
        std::fs::write(&path, "k3y\n").expect("write");
        assert_eq!(Secret::from_file(&path, "--api-key-file").expect("read").expose(), "k3y");
    }
}
