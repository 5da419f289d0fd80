//! The prebuilt WASI preview 1 test suite (WebAssembly/wasi-testsuite) kept beside the repository
//! in `shared/wasi-testsuite`: finding it, its tests and their specifications.
//!
//! Layout: `c/`, `rust/`, `assemblyscript/`, each holding `NAME.wasm` and, for most, `NAME.json`
//! (`args`, `env`, `exit_code`, `stdout`, `stderr`, `root`; the suite's `SPECIFICATION.md`). A test
//! without a `.json` runs with no arguments and must exit 0; `stdout` and `stderr` are compared only
//! when the specification gives them.

use std::path::{Path, PathBuf};

/// Overrides where the suite is looked for.
pub const ENV: &str = "WASIVFS_WASI_TESTSUITE";

/// The suite's directory: `$WASIVFS_WASI_TESTSUITE`, else `<repo>/../shared/wasi-testsuite` (CI
/// clones the repository beside `shared/`).
pub fn location() -> PathBuf {
    match std::env::var_os(ENV) {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/wasi-testsuite"),
    }
}

/// One test of the suite.
#[derive(Clone, Debug)]
pub struct SuiteTest {
    /// `language/NAME`, for messages.
    pub name: String,
    /// The module.
    pub wasm: PathBuf,
    /// The guest's argv after argv\[0\].
    pub args: Vec<String>,
    /// The environment.
    pub env: Vec<(String, String)>,
    /// The directory to preopen as the guest's `/`, if any.
    pub root: Option<PathBuf>,
    /// The expected exit code.
    pub exit_code: i32,
    /// The expected stdout, if the specification gives one.
    pub stdout: Option<String>,
    /// The expected stderr, if the specification gives one.
    pub stderr: Option<String>,
}

/// Whether `dir` holds the suite's specifications (`*.json`) but not one `.wasm` program: a copy
/// whose binaries were lost, which no run can use.
pub fn programs_missing(dir: &Path) -> bool {
    let count = |ext: &str| {
        ["assemblyscript", "c", "rust"]
            .iter()
            .filter_map(|lang| std::fs::read_dir(dir.join(lang)).ok())
            .flatten()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == ext))
            .count()
    };
    count("json") > 0 && count("wasm") == 0
}

/// Every test under `dir`, sorted by name; an error says what is wrong with the suite.
pub fn tests(dir: &Path) -> Result<Vec<SuiteTest>, String> {
    let mut out = Vec::new();
    for lang in ["assemblyscript", "c", "rust"] {
        let ldir = dir.join(lang);
        let entries = std::fs::read_dir(&ldir).map_err(|e| format!("{}: {e}", ldir.display()))?;
        let mut wasms: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        wasms.sort();
        for wasm in wasms {
            out.push(spec(lang, &wasm)?);
        }
    }
    if out.is_empty() {
        return Err(format!(
            "{}: no .wasm test modules (the prebuilt tests are missing)",
            dir.display()
        ));
    }
    Ok(out)
}

fn spec(lang: &str, wasm: &Path) -> Result<SuiteTest, String> {
    let stem = wasm
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| format!("{}: name is not UTF-8", wasm.display()))?;
    let json = wasm.with_extension("json");
    let spec: serde_json::Value = if json.exists() {
        let text =
            std::fs::read_to_string(&json).map_err(|e| format!("{}: {e}", json.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))?
    } else {
        serde_json::json!({})
    };
    let bad = |what: &str| format!("{}: unsupported or malformed `{what}`", json.display());
    if spec.get("operations").is_some() {
        return Err(bad("operations"));
    }
    let strings = |v: &serde_json::Value| -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let args = match spec.get("args") {
        Some(v) => strings(v).ok_or_else(|| bad("args"))?,
        None => Vec::new(),
    };
    let env = match spec.get("env") {
        Some(v) => v
            .as_object()
            .ok_or_else(|| bad("env"))?
            .iter()
            .map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("env"))?,
        None => Vec::new(),
    };
    let text = |key: &str| -> Result<Option<String>, String> {
        match spec.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| bad(key)),
        }
    };
    let root = text("root")?.map(|r| wasm.with_file_name(r));
    let exit_code = match spec.get("exit_code") {
        Some(v) => v
            .as_i64()
            .and_then(|c| i32::try_from(c).ok())
            .ok_or_else(|| bad("exit_code"))?,
        None => 0,
    };
    Ok(SuiteTest {
        name: format!("{lang}/{stem}"),
        wasm: wasm.to_path_buf(),
        args,
        env,
        root,
        exit_code,
        stdout: text("stdout")?,
        stderr: text("stderr")?,
    })
}

impl SuiteTest {
    /// `None` if `outcome` is what the specification expects, else why not.
    pub fn check(&self, outcome: &wasivfs_module_cache::RunOutcome) -> Option<String> {
        let mut why = Vec::new();
        if outcome.exit_code != self.exit_code {
            why.push(format!(
                "exit code {} instead of {} (trap: {:?})",
                outcome.exit_code, self.exit_code, outcome.trap
            ));
        }
        for (what, want, got) in [
            ("stdout", &self.stdout, &outcome.stdout),
            ("stderr", &self.stderr, &outcome.stderr),
        ] {
            if let Some(want) = want {
                if want.as_bytes() != got.as_slice() {
                    why.push(format!(
                        "{what} {:?} instead of {want:?}",
                        String::from_utf8_lossy(got)
                    ));
                }
            }
        }
        if why.is_empty() {
            None
        } else {
            Some(why.join("; "))
        }
    }
}
