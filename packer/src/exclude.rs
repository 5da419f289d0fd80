//! What to leave out of a pack: gitignore-style patterns, matched relative to each mapped root.
//!
//! Patterns follow `.gitignore` rules (matching is done by the `ignore` crate): `*.pyc` matches at any
//! depth, `__pycache__/` only directories, `/build` only at the root of a mapping, `!keep.pyc`
//! re-includes what an earlier pattern excluded, and the last matching pattern wins. An excluded
//! directory is skipped whole, so nothing below it can be re-included.

use crate::error::{PackError, Result};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use std::path::{Path, PathBuf};

/// Where a pattern came from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Origin {
    /// `--exclude PATTERN`.
    Option,
    /// A line of an `--exclude-from` file (1-based).
    File(PathBuf, usize),
}

/// An ordered list of exclude patterns. Build it with [`ExcludeRules::add_pattern`] and
/// [`ExcludeRules::add_file`]; each is checked as it is added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExcludeRules {
    patterns: Vec<(String, Origin)>,
}

impl ExcludeRules {
    /// No patterns: everything is packed.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when there is no pattern.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The patterns, in order.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(|(p, _)| p.as_str())
    }

    /// Adds one `--exclude` pattern; an invalid glob is an error naming it.
    pub fn add_pattern(&mut self, pattern: &str) -> Result<()> {
        self.push(pattern, Origin::Option)
    }

    /// Adds every pattern of `path`: one per line, blank lines and lines starting with `#` ignored
    /// (gitignore syntax). An unreadable file or an invalid pattern is an error naming the file.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path).map_err(|e| PackError::io(path, e))?;
        for (i, line) in text.lines().enumerate() {
            self.push(line, Origin::File(path.to_path_buf(), i + 1))?;
        }
        Ok(())
    }

    fn push(&mut self, pattern: &str, origin: Origin) -> Result<()> {
        // Check it now, so a typo is reported before any directory is walked.
        let mut probe = GitignoreBuilder::new("/");
        add_line(&mut probe, pattern, &origin)?;
        self.patterns.push((pattern.to_string(), origin));
        Ok(())
    }

    /// The matcher for the mapped directory `root`; patterns are relative to it.
    pub(crate) fn matcher(&self, root: &Path) -> Result<Option<Matcher>> {
        if self.patterns.is_empty() {
            return Ok(None);
        }
        let mut builder = GitignoreBuilder::new(root);
        for (pattern, origin) in &self.patterns {
            add_line(&mut builder, pattern, origin)?;
        }
        let gitignore = builder.build().map_err(|e| PackError::Options {
            what: "--exclude".into(),
            reason: e.to_string(),
        })?;
        Ok(Some(Matcher(gitignore)))
    }
}

fn add_line(builder: &mut GitignoreBuilder, pattern: &str, origin: &Origin) -> Result<()> {
    let from = match origin {
        Origin::Option => None,
        Origin::File(p, _) => Some(p.clone()),
    };
    builder
        .add_line(from, pattern)
        .map(|_| ())
        .map_err(|e| match origin {
            Origin::Option => PackError::Options {
                what: format!("--exclude {pattern:?}"),
                reason: format!("invalid pattern: {}", glob_reason(&e, pattern)),
            },
            Origin::File(path, line) => PackError::Options {
                what: format!("{}:{line}", path.display()),
                reason: format!("invalid pattern {pattern:?}: {}", glob_reason(&e, pattern)),
            },
        })
}

/// The reason of a glob error without the pattern (which the message already names).
fn glob_reason(e: &ignore::Error, pattern: &str) -> String {
    let msg = e.to_string();
    let prefix = format!("error parsing glob '{}': ", pattern.trim_end());
    match msg.strip_prefix(&prefix) {
        Some(reason) => reason.to_string(),
        None => msg,
    }
}

/// The compiled patterns for one mapped root.
pub(crate) struct Matcher(Gitignore);

impl Matcher {
    /// True when `rel` (a path relative to the root, `/`-separated) is excluded.
    pub(crate) fn excludes(&self, rel: &str, is_dir: bool) -> bool {
        self.0.matched(rel, is_dir).is_ignore()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(patterns: &[&str]) -> Matcher {
        let mut r = ExcludeRules::new();
        for p in patterns {
            r.add_pattern(p).unwrap();
        }
        r.matcher(Path::new("/some/root")).unwrap().unwrap()
    }

    #[test]
    fn gitignore_semantics() {
        let m = rules(&["__pycache__/", "*.pyc", ".git/", "/build", "!keep.pyc"]);
        assert!(m.excludes("__pycache__", true));
        assert!(m.excludes("pkg/__pycache__", true));
        // A trailing slash matches directories only.
        assert!(!m.excludes("pkg/__pycache__", false));
        assert!(m.excludes("a.pyc", false));
        assert!(m.excludes("deep/er/a.pyc", false));
        assert!(!m.excludes("keep.pyc", false));
        assert!(!m.excludes("sub/keep.pyc", false));
        assert!(m.excludes(".git", true));
        // Anchored: only at the root of the mapping.
        assert!(m.excludes("build", true));
        assert!(!m.excludes("src/build", true));
        assert!(!m.excludes("main.py", false));
    }

    #[test]
    fn the_last_matching_pattern_wins() {
        let m = rules(&["!x.log", "*.log"]);
        assert!(m.excludes("x.log", false));
        let m = rules(&["*.log", "!x.log"]);
        assert!(!m.excludes("x.log", false));
    }

    #[test]
    fn files_with_comments_and_bad_patterns() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("excludes.txt");
        std::fs::write(&list, "# build output\n\n*.o\n  \n/dist\n").unwrap();
        let mut r = ExcludeRules::new();
        r.add_file(&list).unwrap();
        assert_eq!(
            r.patterns().collect::<Vec<_>>(),
            ["# build output", "", "*.o", "  ", "/dist"]
        );
        let m = r.matcher(Path::new("/r")).unwrap().unwrap();
        assert!(m.excludes("a/b.o", false));
        assert!(m.excludes("dist", true));
        assert!(!m.excludes("# build output", false));

        std::fs::write(&list, "ok\nx[z-a]\n").unwrap();
        let err = ExcludeRules::new().add_file(&list).unwrap_err().to_string();
        assert!(
            err.contains("excludes.txt:2")
                && err.contains("x[z-a]")
                && err.contains("invalid range"),
            "{err}"
        );

        let err = ExcludeRules::new()
            .add_pattern("a[z-a]")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--exclude \"a[z-a]\""), "{err}");

        let missing = dir.path().join("missing.txt");
        let err = ExcludeRules::new()
            .add_file(&missing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.txt"), "{err}");
    }
}
