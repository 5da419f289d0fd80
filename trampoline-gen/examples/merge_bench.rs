//! Merges a VFS into an application module N times and prints the median time.
//!
//! Usage: `merge_bench APP.wasm [N] [VFS.wasm|-] [OUT.wasm]`. Without a VFS file (or with
//! `-`), a generated pass-through VFS with the guest ABI's shape is used (every intercepted
//! function falls through, all intrinsics are imported, and 1 MiB of data stands in for an
//! image). With OUT, the merged module is also written there.

use std::time::{Duration, Instant};
use std::{env, fs, process};

use wasivfs_trampoline_gen::{append_layer_section, check_app, merge, wasi, Merger, Validation};

fn passthrough_vfs() -> Result<Vec<u8>, String> {
    let mut text = String::from("(module\n");
    let ty = |t: &wasivfs_abi::ValKind| wasi::val_type(*t).to_string();
    for f in wasivfs_abi::INTERCEPTED {
        let (name, sig) = (f.name, f.signature);
        let params: Vec<_> = sig.params.iter().map(ty).collect();
        text.push_str(&format!(
            "  (import \"{}\" \"{name}\" (func $host_{name} (param {}) (result i32)))\n",
            wasi::PREVIEW1,
            params.join(" ")
        ));
    }
    for (f, _) in wasivfs_abi::INTRINSICS {
        let (name, sig) = (f.name, f.signature);
        let params: Vec<_> = sig.params.iter().map(ty).collect();
        let results: Vec<_> = sig.results.iter().map(ty).collect();
        text.push_str(&format!(
            "  (import \"{}\" \"{name}\" (func (param {}) (result {})))\n",
            wasi::APP_INTRINSICS,
            params.join(" "),
            results.join(" ")
        ));
    }
    text.push_str("  (memory 17)\n");
    text.push_str(&format!(
        "  (data (i32.const 65536) \"{}\")\n",
        "\\2a".repeat(1 << 20)
    ));
    for f in wasivfs_abi::INTERCEPTED {
        let (name, sig) = (f.name, f.signature);
        let params: Vec<_> = sig.params.iter().map(ty).collect();
        let gets: String = (0..sig.params.len())
            .map(|i| format!(" (local.get {i})"))
            .collect();
        text.push_str(&format!(
            "  (func (export \"{}{name}\") (param {}) (result i32) (call $host_{name}{gets}))\n",
            wasi::EXPORT_PREFIX,
            params.join(" ")
        ));
    }
    text.push_str(")\n");
    wat::parse_str(&text).map_err(|e| e.to_string())
}

fn run() -> Result<(), String> {
    let args: Vec<String> = env::args().collect();
    let app_path = args
        .get(1)
        .ok_or("usage: merge_bench APP.wasm [N] [VFS.wasm]")?;
    let n: usize = match args.get(2) {
        Some(s) => s.parse().map_err(|_| format!("not a count: {s}"))?,
        None => 10,
    };
    let app = fs::read(app_path).map_err(|e| format!("{app_path}: {e}"))?;
    let vfs = match args.get(3).filter(|p| *p != "-") {
        Some(p) => fs::read(p).map_err(|e| format!("{p}: {e}"))?,
        None => passthrough_vfs()?,
    };

    let info = check_app(&app).map_err(|e| format!("{app_path}: {e}"))?;
    println!(
        "{app_path}: {} bytes, {} functions ({} imported), {} intercepted imports",
        info.size,
        info.imported_functions + info.defined_functions,
        info.imported_functions,
        info.intercepted.len()
    );

    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (mut total, mut check, mut plan, mut emit) = (vec![], vec![], vec![], vec![]);
    let mut emit_changed = vec![];
    let mut out_len = 0;
    for _ in 0..n.max(1) {
        let t = Instant::now();
        check_app(&app).map_err(|e| e.to_string())?;
        check.push(t.elapsed());

        let t = Instant::now();
        let m = Merger::new(&app, &vfs, 0).map_err(|e| e.to_string())?;
        plan.push(t.elapsed());
        let t = Instant::now();
        let mut out = m.emit(Validation::Full, None).map_err(|e| e.to_string())?;
        emit.push(t.elapsed());
        let t = Instant::now();
        let out_changed = m
            .emit(Validation::Changed, None)
            .map_err(|e| e.to_string())?;
        emit_changed.push(t.elapsed());
        if out != out_changed {
            return Err("validation mode changed the output".into());
        }

        let t = Instant::now();
        let out2 = merge(&app, &vfs, |_| b"{}".to_vec()).map_err(|e| e.to_string())?;
        total.push(t.elapsed());
        append_layer_section(&mut out, b"{}").map_err(|e| e.to_string())?;
        if out != out2 {
            return Err("two merges of the same inputs differ".into());
        }
        out_len = out.len();
        if let Some(path) = args.get(4) {
            fs::write(path, &out).map_err(|e| format!("{path}: {e}"))?;
        }
    }
    let m = Merger::new(&app, &vfs, 0).map_err(|e| e.to_string())?;
    let p = m.plan();
    println!(
        "output {out_len} bytes; {} trampolines, {} stubs, {} bodies rewritten",
        p.trampolines.len(),
        p.stubs.len(),
        p.rewritten_bodies
    );
    println!(
        "median of {n}: merge {:?} (check_app {:?}, plan {:?}, emit+validate {:?}); \
         emit with Validation::Changed {:?}",
        median(total),
        median(check),
        median(plan),
        median(emit),
        median(emit_changed)
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("merge_bench: {e}");
        process::exit(1);
    }
}
