//! What ids, names and references may hold, checked before they reach a URL path or a
//! request: a value that cannot be one is an `invalid_arguments` error naming the
//! argument.

use mcp_core::ToolError;

use crate::output::clip;

/// Rejects an id or name that cannot be one before it reaches a URL path.
pub fn check_ref(what: &str, value: &str) -> Result<(), ToolError> {
    // Container ids and names never hold `/`, `:` or `@` (image references do); keeping
    // them out means a name cannot reach another API path.
    let allowed = if matches!(what, "container" | "id") { "_.-" } else { "_.-:/@+" };
    let ok = !value.is_empty()
        && value.len() <= 256
        && value.chars().all(|c| c.is_ascii_alphanumeric() || allowed.contains(c))
        && !value.contains("..");
    if ok {
        Ok(())
    } else {
        Err(ToolError::invalid_arguments(format!(
            "`{what}`: `{}` is not a valid id or name (letters, digits and {allowed} only)",
            clip(value, 80)
        )))
    }
}

/// Whether `value` is 1 to `max` letters, digits, `_`, `.` and `-`.
pub fn is_plain(value: &str, max: usize) -> bool {
    !value.is_empty() && value.len() <= max && value.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Checks a name the server gives a new object (a container, network or volume).
pub fn check_new_name(value: &str, max: Option<usize>) -> Result<(), ToolError> {
    if is_plain(value, max.unwrap_or(usize::MAX)) {
        return Ok(());
    }
    let limit = max.map(|m| format!(" (at most {m})")).unwrap_or_default();
    Err(ToolError::invalid_arguments(format!(
        "`name`: `{}` may hold only letters, digits, _ . -{limit}",
        clip(value, 80)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_cannot_reach_another_path() {
        assert!(check_ref("container", "web-1").is_ok());
        assert!(check_ref("image", "registry:5000/team/app@sha256:ab").is_ok());
        for bad in ["", "../x", "a/b", "a:b", "a b", "a?b"] {
            assert!(check_ref("container", bad).is_err(), "{bad:?}");
        }
        assert!(check_ref("image", "a/../b").is_err());
    }

    #[test]
    fn new_names_are_plain() {
        assert!(check_new_name("web_1.a-b", None).is_ok());
        assert!(check_new_name(&"a".repeat(129), Some(128)).expect_err("long").to_string().contains("at most 128"));
        assert!(check_new_name("a/b", None).is_err());
        assert!(check_new_name("", None).is_err());
    }
}
