//! Runs one generated case — a tree and a sequence of calls — through `fixtures/ops-guest` on the
//! oracle (the tree host-mapped read-only at `/t`) and packed (the tree embedded at `/t`, no host
//! directory), and compares the normalised outputs.
//!
//! ## What is normalised, and why
//!
//! Only the differences `docs/design.md` documents as deliberate; everything else must match byte
//! for byte:
//!
//! - **Inode numbers** (`ino=` of a filestat, the inode of each `fd_readdir` entry): the oracle shows
//!   the host's, the packed tree its image's. Masked with `*` (in a truncated `fd_readdir` header,
//!   one `*` per hex digit, since how many of its bytes fit is compared).
//! - **Access and change times** (`atim=`, `ctim=`): an embedded entry reports its stored
//!   modification time for all three; the host's access time moves on reads and its change time is
//!   the inode's, which no pack can reproduce. `mtim=` is compared.
//! - **Directory size and link count** (`size=` and `nlink=` of a directory's filestat): the packed
//!   tree reports 4096 and 1 whatever the host file system says (tmpfs counts entries, ext4 blocks).
//!   A file's or link's size and link count are compared.
//! - **Modification times** (`mtim=`), only when the tree is writable ([`run_case_mode`]): a
//!   write stamps the time of the moment, which two runs never share.
//! - **Descriptor numbers** and **listing order** never reach the output: the guest names
//!   descriptors by handle, and the trees are built so the host lists names in byte order (see
//!   [`crate::gentree`]).

use crate::fixtures;
use crate::gentree::{self, TreeSpec};
use crate::run::{engine, line_diff, map, pack};
use anyhow::{anyhow, Context, Result};
use std::sync::OnceLock;
use wasivfs_module_cache::{RunOptions, RunOutcome, Stdio};

/// Where the tree is mounted in the guest (the guest's handle 0, fd 3).
pub const GUEST_ROOT: &str = "/t";

/// One case: a tree and the guest's input lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The tree.
    pub tree: TreeSpec,
    /// The operations, one guest input line each.
    pub ops: Vec<String>,
}

impl Case {
    /// The text form: the tree's lines, a `--` line, the operation lines. `#` starts a comment.
    pub fn to_text(&self) -> String {
        format!("{}--\n{}\n", self.tree.to_text(), self.ops.join("\n"))
    }

    /// Parses [`Case::to_text`]'s form.
    pub fn parse(text: &str) -> Result<Case, String> {
        let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        let split = body
            .iter()
            .position(|l| *l == "--")
            .ok_or("a case needs a `--` line between the tree and the operations")?;
        Ok(Case {
            tree: TreeSpec::parse(&body[..split].join("\n"))?,
            ops: body[split + 1..]
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.to_string())
                .collect(),
        })
    }
}

/// Both sides' outcomes and the normalised outputs.
pub struct Outcome {
    /// The oracle's run.
    pub oracle: RunOutcome,
    /// The packed module's run.
    pub packed: RunOutcome,
    /// Whether the tree was writable (modification times are then masked too).
    pub writable: bool,
}

impl Outcome {
    /// `None` if both sides agree after normalisation, else a readable description.
    pub fn difference(&self) -> Option<String> {
        let (a, b) = (&self.oracle, &self.packed);
        let (na, nb) = (
            normalise_with(&a.stdout, self.writable),
            normalise_with(&b.stdout, self.writable),
        );
        if na == nb && a.stderr == b.stderr && a.exit_code == b.exit_code && a.trap == b.trap {
            return None;
        }
        let mut msg = String::new();
        if a.exit_code != b.exit_code || a.trap != b.trap {
            msg += &format!(
                "exit code: oracle {} packed {} (traps: oracle {:?}, packed {:?})\n",
                a.exit_code, b.exit_code, a.trap, b.trap
            );
        }
        if na != nb {
            msg += &format!(
                "stdout, normalised (- oracle, + packed):\n{}",
                line_diff(na.as_bytes(), nb.as_bytes())
            );
        }
        if a.stderr != b.stderr {
            msg += &format!(
                "stderr (- oracle, + packed):\n{}",
                line_diff(&a.stderr, &b.stderr)
            );
        }
        Some(msg)
    }

    /// The oracle's normalised output.
    pub fn oracle_text(&self) -> String {
        normalise_with(&self.oracle.stdout, self.writable)
    }
}

/// Masks the fields listed in the module docs.
pub fn normalise(stdout: &[u8]) -> String {
    normalise_with(stdout, false)
}

/// [`normalise`]; with `writable`, modification times are masked too (a write stamps the clock of
/// the moment, which two runs never share).
pub fn normalise_with(stdout: &[u8], writable: bool) -> String {
    let text = String::from_utf8_lossy(stdout);
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let is_dir_stat = line.split(' ').any(|t| t == "type=3") && line.contains(" ino=");
        let mut first = true;
        for tok in line.split(' ') {
            if !first {
                out.push(' ');
            }
            first = false;
            out.push_str(&normalise_token(tok, is_dir_stat, writable));
        }
        out.push('\n');
    }
    out
}

fn stars(s: &str) -> String {
    "*".repeat(s.len())
}

fn normalise_token(tok: &str, is_dir_stat: bool, writable: bool) -> String {
    // A truncated readdir header, `partial:next=HEX:ino=HEX:tail=HEX`.
    if let Some(rest) = tok.strip_prefix("partial:") {
        let fields: Vec<String> = rest
            .split(':')
            .map(|p| match p.strip_prefix("ino=") {
                Some(v) => format!("ino={}", stars(v)),
                None => p.to_string(),
            })
            .collect();
        return format!("partial:{}", fields.join(":"));
    }
    // A readdir entry, `NEXT:INO:TYPE:NAMEHEX[:...]`.
    let parts: Vec<&str> = tok.split(':').collect();
    if parts.len() >= 4
        && parts[..3]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        let mut v: Vec<&str> = parts;
        v[1] = "*";
        return v.join(":");
    }
    if let Some((key, _)) = tok.split_once('=') {
        let masked = match key {
            "ino" | "atim" | "ctim" => true,
            "mtim" => writable,
            "size" | "nlink" => is_dir_stat,
            _ => false,
        };
        if masked {
            // Not `*` per digit: the value's length would leak the difference too.
            return format!("{key}=*");
        }
    }
    tok.to_string()
}

fn guest_module() -> Result<&'static wasmtime::Module> {
    static MODULE: OnceLock<Result<wasmtime::Module, String>> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            wasivfs_module_cache::compile(engine(), &fixtures::ops_guest())
                .map_err(|e| format!("{e:#}"))
        })
        .as_ref()
        .map_err(|e| anyhow!("{e}"))
}

fn options(stdin: &[u8], dirs: Vec<(std::path::PathBuf, String)>, writable: bool) -> RunOptions {
    RunOptions {
        args: vec!["ops-guest".to_string()],
        env: Vec::new(),
        dirs,
        read_only: !writable,
        stdio: Stdio::Capture {
            stdin: stdin.to_vec(),
        },
    }
}

/// Builds the tree, runs the case on both sides and returns the outcomes.
pub fn run_case(case: &Case) -> Result<Outcome> {
    run_case_mode(case, false)
}

/// [`run_case`]; with `writable`, the oracle maps the tree read-write and the packed side packs
/// it with `--writable` (packed first: the oracle's run may change the tree).
pub fn run_case_mode(case: &Case, writable: bool) -> Result<Outcome> {
    let tree = gentree::build(&case.tree).map_err(|e| anyhow!("building the tree: {e}"))?;
    let mut stdin = case.ops.join("\n").into_bytes();
    stdin.push(b'\n');
    let mounts = [map(GUEST_ROOT, tree.path())];
    let packed_bytes = if writable {
        let w = crate::packer::Writable::all(&mounts);
        crate::run::pack_writable(&fixtures::ops_guest(), &mounts, &w)
    } else {
        pack(&fixtures::ops_guest(), &mounts)
    }
    .context("packing the tree")?;
    let oracle = wasivfs_module_cache::run_command(
        engine(),
        guest_module()?,
        &options(
            &stdin,
            vec![(tree.path().to_path_buf(), GUEST_ROOT.to_string())],
            writable,
        ),
    )
    .context("oracle run")?;
    let packed = wasivfs_module_cache::run_bytes(
        engine(),
        &packed_bytes,
        &options(&stdin, Vec::new(), writable),
    )
    .context("packed run")?;
    Ok(Outcome {
        oracle,
        packed,
        writable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_only_the_documented_fields() {
        let out = b"0 stat ok dev=1 ino=1234 type=3 nlink=2 size=60 atim=1 mtim=2 ctim=3\n\
1 fstat ok dev=1 ino=77 type=4 nlink=1 size=13 atim=1 mtim=2 ctim=3\n\
2 readdir ok cookie=0 used=30 1:99:3:2e partial:next=0100:ino=ab\n";
        assert_eq!(
            normalise(out),
            "0 stat ok dev=1 ino=* type=3 nlink=* size=* atim=* mtim=2 ctim=*\n\
1 fstat ok dev=1 ino=* type=4 nlink=1 size=13 atim=* mtim=2 ctim=*\n\
2 readdir ok cookie=0 used=30 1:*:3:2e partial:next=0100:ino=**\n"
        );
    }

    #[test]
    fn case_text_round_trip() {
        let case = Case {
            tree: TreeSpec::parse("d a\nf a/b 3 1\nl c -> a/b\n").unwrap(),
            ops: vec!["open 0 1 0 0 0 0 612f62".into(), "read 1 4,4".into()],
        };
        assert_eq!(Case::parse(&case.to_text()).unwrap(), case);
    }
}
