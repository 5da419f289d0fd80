//! The text `ls` and `inspect` print.

use crate::{ListItem, Summary};
use std::time::{Duration, SystemTime};
use wasivfs_image::config::{EnvInherit, HostDirs, ProgramConfig};
use wasivfs_image::section::MemoryMode;

/// `ns` nanoseconds after the Unix epoch.
pub(crate) fn mtime(ns: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(ns)
}

/// Formats `ns` since the epoch as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn format_time(ns: u64) -> String {
    let s = humantime::format_rfc3339_seconds(mtime(ns)).to_string();
    s.trim_end_matches('Z').replace('T', " ")
}

/// Renders a listing the way `wasivfs ls` prints it.
pub fn render_list(items: &[ListItem], long: bool) -> String {
    let mut out = String::new();
    for it in items {
        if long {
            let t = match it.kind {
                "dir" => 'd',
                "symlink" => 'l',
                _ => '-',
            };
            out.push_str(&format!(
                "{t} {:>12} {} {}",
                it.size,
                format_time(it.mtime_ns),
                it.path
            ));
            if let Some(target) = &it.target {
                out.push_str(&format!(" -> {target}"));
            }
        } else {
            out.push_str(&it.path);
            if it.kind == "dir" && !it.path.ends_with('/') {
                out.push('/');
            }
        }
        if let Some(mode) = it.mount {
            out.push_str(&format!(" ({mode})"));
        }
        out.push('\n');
    }
    out
}

/// One mount in `inspect`'s summary: its guest path, and for a writable one its kind and limit.
fn mount_summary(m: &wasivfs_image::section::MountInfo) -> String {
    let kind = if m.tmpfs {
        "tmpfs"
    } else if m.writable {
        "writable"
    } else {
        return m.guest.clone();
    };
    match m.size_limit {
        Some(n) => format!("{} ({kind}, at most {n} bytes)", m.guest),
        None => format!("{} ({kind})", m.guest),
    }
}

/// Renders `inspect`'s human-readable summary.
pub fn render_summary(s: &Summary) -> String {
    let mut out = format!(
        "module size: {} bytes\nmemories: {}\npack layers: {}\n",
        s.module_size,
        s.memories,
        s.layers.len()
    );
    for (i, l) in s.layers.iter().enumerate() {
        out.push_str(&format!(
            "\nlayer {i} (packed by {}, VFS ABI {})\n  input module: {} bytes, sha256 {}\n  mounts: {}\n  files: {}, directories: {}, symlinks: {}\n  file bytes: {} ({} stored after de-duplication)\n  memory mode: {}\n  image: memory {} at {:#x}, {} bytes; VFS memory {} pages ({} KiB) at start\n  contents: {} bytes in {} passive segments (data {}..{})\n  trampolines ({}): {}\n",
            l.tool,
            l.vfs_abi,
            l.input.size,
            l.input.sha256,
            l.mounts.iter().map(mount_summary).collect::<Vec<_>>().join(", "),
            l.files,
            l.dirs,
            l.symlinks,
            l.file_bytes,
            l.stored_bytes,
            match l.memory {
                MemoryMode::Single => format!(
                    "single (the VFS is a region of memory 0 from byte {:#x})",
                    l.vfs_base
                ),
                MemoryMode::Multi => format!("multi (the VFS has memory {})", l.vfs_memory),
            },
            l.vfs_memory,
            l.vfs_base.saturating_add(u64::from(l.image_addr)),
            l.image_len,
            l.vfs_memory_pages,
            l.vfs_memory_pages * 64,
            l.content.len,
            l.content.segments,
            l.content.first_segment,
            l.content.first_segment + l.content.segments,
            l.trampolines.len(),
            l.trampolines.join(" "),
        ));
        if !l.stubs.is_empty() {
            out.push_str(&format!("  stubs (ENOSYS): {}\n", l.stubs.join(" ")));
        }
        out.push_str(&program_summary(&l.program));
    }
    out
}

/// The baked arguments, variables and policies of a layer, as `inspect` prints them (strings
/// quoted, so that empty and odd ones show).
fn program_summary(p: &ProgramConfig) -> String {
    let quoted = |v: &mut dyn Iterator<Item = String>| -> String {
        let v: Vec<String> = v.map(|s| format!("{s:?}")).collect();
        if v.is_empty() {
            "(none)".to_string()
        } else {
            v.join(" ")
        }
    };
    format!(
        "  argv[0]: {}\n  arguments after argv[0]: {}\n  environment: {}\n  runtime variables: {}\n  host directories: {}\n",
        match &p.argv0 {
            Some(a) => format!("{a:?}"),
            None => "as the runtime passes it".to_string(),
        },
        quoted(&mut p.args.iter().cloned()),
        quoted(&mut p.env.iter().map(|(n, v)| format!("{n}={v}"))),
        match &p.env_inherit {
            EnvInherit::All => "all".to_string(),
            EnvInherit::None => "none".to_string(),
            EnvInherit::Only(names) => format!("only {}", names.join(",")),
        },
        match p.host_dirs {
            HostDirs::Allow => "allow (the runtime's preopens stay visible)",
            HostDirs::Deny => "deny (the runtime's preopens are hidden)",
        },
    )
}
