//! Keeping the cache bounded: least recently used artifacts go first.
//!
//! Each artifact `X.cwasm` has a record `X.sum`; a hit moves the record's modification time
//! forward (at most once an hour, so a hit costs no write in the common case), and that time is
//! the entry's "last used". After a new artifact is stored, entries are removed, oldest first,
//! until the artifacts fit in the size limit; the entry just stored is never removed. The same
//! pass removes temporary files left by an interrupted write and module-file records not
//! refreshed for a month (they are hints, recreated on demand).

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How stale a hit's record may get before the hit refreshes it.
pub(crate) const TOUCH_AFTER: Duration = Duration::from_secs(3600);
/// Temporary files older than this belong to a write that died.
const TEMP_MAX_AGE: Duration = Duration::from_secs(3600);
/// Module-file records older than this are removed.
const FILE_RECORD_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Marks the entry whose record is `sum` as used now, unless it was marked within
/// [`TOUCH_AFTER`]. Best effort: a read-only cache still serves hits.
pub(crate) fn touch(sum: &Path) {
    let Ok(meta) = fs::metadata(sum) else { return };
    let fresh = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age < TOUCH_AFTER);
    if fresh {
        return;
    }
    if let Ok(f) = fs::OpenOptions::new().write(true).open(sum) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// One artifact and when it was last used.
struct Entry {
    artifact: std::path::PathBuf,
    sum: std::path::PathBuf,
    size: u64,
    used: SystemTime,
}

/// Removes least recently used entries in `layout_dir` until the artifacts total at most
/// `max_bytes`, never `keep`. Returns how many entries were removed. Errors (a file removed by a
/// concurrent run, a permission problem) skip that file.
pub(crate) fn evict(layout_dir: &Path, max_bytes: u64, keep: &Path) -> usize {
    let now = SystemTime::now();
    let age = |m: &fs::Metadata| {
        m.modified()
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .unwrap_or_default()
    };
    let mut entries = Vec::new();
    let Ok(dir) = fs::read_dir(layout_dir) else {
        return 0;
    };
    for e in dir.flatten() {
        let path = e.path();
        let Ok(meta) = e.metadata() else { continue };
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(wasivfs_atomic_write::TEMP_PREFIX) {
            if age(&meta) > TEMP_MAX_AGE {
                let _ = fs::remove_file(&path);
            }
            continue;
        }
        if name == "files" && meta.is_dir() {
            prune_file_records(&path, &age);
            continue;
        }
        if path.extension().is_some_and(|x| x == "cwasm") {
            let sum = path.with_extension("sum");
            let used = fs::metadata(&sum)
                .and_then(|m| m.modified())
                .or_else(|_| meta.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            entries.push(Entry {
                artifact: path,
                sum,
                size: meta.len(),
                used,
            });
        }
    }
    let mut total: u64 = entries.iter().map(|e| e.size).sum();
    entries.sort_by_key(|e| e.used);
    let mut removed = 0;
    for e in entries {
        if total <= max_bytes {
            break;
        }
        if e.artifact == keep {
            continue;
        }
        // The record goes first: an artifact without a record is never used, the reverse would
        // only be a wasted lookup.
        let _ = fs::remove_file(&e.sum);
        if fs::remove_file(&e.artifact).is_ok() {
            total = total.saturating_sub(e.size);
            removed += 1;
        }
    }
    removed
}

fn prune_file_records(dir: &Path, age: &dyn Fn(&fs::Metadata) -> Duration) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if let Ok(meta) = e.metadata() {
            if meta.is_file() && age(&meta) > FILE_RECORD_MAX_AGE {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(dir: &Path, name: &str, size: usize, used_secs_ago: u64) -> std::path::PathBuf {
        let a = dir.join(format!("{name}.cwasm"));
        fs::write(&a, vec![0u8; size]).unwrap();
        let s = a.with_extension("sum");
        fs::write(&s, b"x").unwrap();
        let f = fs::OpenOptions::new().write(true).open(&s).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(used_secs_ago))
            .unwrap();
        a
    }

    #[test]
    fn removes_least_recently_used_first_and_never_the_new_entry() {
        let d = tempfile::tempdir().unwrap();
        let old = entry(d.path(), "old", 100, 300);
        let mid = entry(d.path(), "mid", 100, 200);
        let new = entry(d.path(), "new", 100, 100);
        // The newest-written entry is older than the others by use time, yet it is kept.
        let keep = entry(d.path(), "keep", 100, 1000);
        assert_eq!(evict(d.path(), 250, &keep), 2);
        assert!(!old.exists() && !old.with_extension("sum").exists());
        assert!(!mid.exists());
        assert!(new.exists() && keep.exists());
        assert_eq!(evict(d.path(), 250, &keep), 0);
    }

    #[test]
    fn touch_refreshes_only_stale_records() {
        let d = tempfile::tempdir().unwrap();
        let a = entry(d.path(), "a", 1, 2 * TOUCH_AFTER.as_secs());
        let s = a.with_extension("sum");
        touch(&s);
        let age = SystemTime::now()
            .duration_since(fs::metadata(&s).unwrap().modified().unwrap())
            .unwrap_or_default();
        assert!(age < Duration::from_secs(60), "{age:?}");
    }
}
