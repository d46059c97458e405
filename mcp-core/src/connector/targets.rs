//! Named targets: the backends a connector serves (databases, Docker daemons, clusters,
//! n8n instances), one picked per call by an optional argument. No "current target" is
//! kept between calls, so concurrent calls never retarget each other and any replica can
//! serve any call.
//!
//! One rule for every connector: a read that names no target uses the first; a write
//! must be enabled (`--allow-write`), must name its target when there are several (a
//! change never lands on a default the model did not choose), and the target must not
//! be configured read-only.

use std::sync::Arc;

use crate::ToolError;

/// A backend a connector can be pointed at.
pub trait Target: Send + Sync {
    /// Its name, as tools take it.
    fn name(&self) -> &str;
    /// Writes refused here whatever the flags say.
    fn read_only(&self) -> bool {
        false
    }
}

/// The configured targets, in their configured order (the first is the default for reads).
#[derive(Debug)]
pub struct Targets<T> {
    /// What tools call the argument naming one (`database`, `host`, `context`, ...).
    argument: &'static str,
    list: Vec<Arc<T>>,
    allow_write: bool,
}

impl<T: Target> Targets<T> {
    /// Targets named by tools' `argument`; writes are possible only with `allow_write`.
    /// There must be at least one, and names must be unique.
    pub fn new(argument: &'static str, list: Vec<T>, allow_write: bool) -> Result<Self, String> {
        if list.is_empty() {
            return Err(format!("no {argument} is configured"));
        }
        for (i, t) in list.iter().enumerate() {
            if list[..i].iter().any(|other| other.name() == t.name()) {
                return Err(format!("{argument} `{}` is configured twice", t.name()));
            }
        }
        Ok(Self { argument, list: list.into_iter().map(Arc::new).collect(), allow_write })
    }

    /// The target a reading call names, or the first one.
    pub fn for_read(&self, name: Option<&str>) -> Result<Arc<T>, ToolError> {
        match name {
            None => Ok(self.list[0].clone()),
            Some(name) => self.list.iter().find(|t| t.name() == name).cloned().ok_or_else(|| {
                ToolError::invalid_arguments(format!(
                    "`{}`: no {} named `{name}`; configured: {}",
                    self.argument,
                    self.argument,
                    self.names().join(", ")
                ))
            }),
        }
    }

    /// The target a writing call names: writes must be enabled, a call must name its
    /// target when several are configured, and that target must not be read-only.
    pub fn for_write(&self, name: Option<&str>) -> Result<Arc<T>, ToolError> {
        if !self.allow_write {
            return Err(ToolError::refused("writes are disabled: the server was started without --allow-write"));
        }
        if name.is_none() && self.list.len() > 1 {
            return Err(ToolError::invalid_arguments(format!(
                "`{}`: several are configured, so a change must name its target: one of {}",
                self.argument,
                self.names().join(", ")
            )));
        }
        let target = self.for_read(name)?;
        if target.read_only() {
            return Err(ToolError::refused(format!(
                "{} `{}` is configured read-only (read_only = true)",
                self.argument,
                target.name()
            )));
        }
        Ok(target)
    }

    /// Whether writes are enabled at all.
    pub fn allow_write(&self) -> bool {
        self.allow_write
    }

    /// Every target, in order.
    pub fn all(&self) -> &[Arc<T>] {
        &self.list
    }

    /// Their names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.list.iter().map(|t| t.name()).collect()
    }

    /// The lines of a server's instructions that list the targets: `- name (where):
    /// description`, marked read-only where a write would be refused.
    pub fn describe(&self, line: impl Fn(&T) -> String) -> String {
        let mut text = String::new();
        for t in &self.list {
            text += "- ";
            text += &line(t);
            if t.read_only() || !self.allow_write {
                text += " (read-only)";
            }
            text.push('\n');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::ErrorKind;

    #[derive(Debug)]
    struct Db(&'static str, bool);
    impl Target for Db {
        fn name(&self) -> &str {
            self.0
        }
        fn read_only(&self) -> bool {
            self.1
        }
    }

    fn targets(allow_write: bool) -> Targets<Db> {
        Targets::new("database", vec![Db("main", false), Db("replica", true)], allow_write).expect("valid")
    }

    #[test]
    fn reads_default_to_the_first_and_unknown_names_are_listed() {
        let t = targets(false);
        assert_eq!(t.for_read(None).expect("first").name(), "main");
        assert_eq!(t.for_read(Some("replica")).expect("named").name(), "replica");
        let e = t.for_read(Some("nope")).expect_err("unknown");
        assert_eq!(e.kind(), ErrorKind::InvalidArguments);
        assert!(e.to_string().contains("configured: main, replica"), "{e}");
    }

    #[test]
    fn writes_need_the_flag_a_named_target_and_a_writable_one() {
        let e = targets(false).for_write(Some("main")).expect_err("disabled");
        assert_eq!(e.kind(), ErrorKind::Refused);
        assert!(e.to_string().contains("--allow-write"), "{e}");
        let t = targets(true);
        let e = t.for_write(None).expect_err("several");
        assert!(e.to_string().contains("must name its target"), "{e}");
        assert_eq!(t.for_write(Some("main")).expect("named").name(), "main");
        let e = t.for_write(Some("replica")).expect_err("read-only");
        assert_eq!(e.kind(), ErrorKind::Refused);
        let one = Targets::new("host", vec![Db("local", false)], true).expect("valid");
        assert_eq!(one.for_write(None).expect("the only one").name(), "local");
    }

    #[test]
    fn empty_and_duplicate_lists_are_refused() {
        assert!(Targets::<Db>::new("host", vec![], true).is_err());
        let e = Targets::new("host", vec![Db("a", false), Db("a", false)], true).expect_err("twice");
        assert!(e.contains("`a` is configured twice"), "{e}");
    }

    #[test]
    fn instructions_mark_what_cannot_be_written() {
        let text = targets(true).describe(|d| d.0.to_string());
        assert_eq!(text, "- main\n- replica (read-only)\n");
        assert_eq!(targets(false).describe(|d| d.0.to_string()), "- main (read-only)\n- replica (read-only)\n");
    }
}
