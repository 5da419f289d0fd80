//! The single-memory lowering on small hand-written modules: each is run before and after
//! lowering on wasmtime, and both runs must agree.

use anyhow::Result;
use wasivfs_trampoline_gen::{lower_memories, MergeError};
use wasmtime::{Config, Engine, Instance, Module, Store};

/// An "application" memory 0 (2 pages, max 5) and a second memory (1 page) standing for the VFS.
const TWO: &str = r#"
(module
  (memory $app (export "memory") 2 5)
  (memory $vfs 1)
  (data $a (memory $app) (i32.const 16) "app-data")
  (data $v (memory $vfs) (i32.const 8) "vfs-data")
  (data $p "passive!")
  (func (export "app_size") (result i32) (memory.size $app))
  (func (export "vfs_size") (result i32) (memory.size $vfs))
  (func (export "app_grow") (param i32) (result i32) (memory.grow $app (local.get 0)))
  (func (export "vfs_grow") (param i32) (result i32) (memory.grow $vfs (local.get 0)))
  (func (export "app_load") (param i32) (result i32) (i32.load $app (local.get 0)))
  (func (export "vfs_load") (param i32) (result i32) (i32.load $vfs offset=4 (local.get 0)))
  (func (export "vfs_load64") (param i32) (result i64) (i64.load $vfs (local.get 0)))
  (func (export "vfs_store") (param i32 i32) (i32.store $vfs offset=4 (local.get 0) (local.get 1)))
  (func (export "vfs_store64") (param i32 i64) (i64.store $vfs (local.get 0) (local.get 1)))
  (func (export "app_store") (param i32 i32) (i32.store $app (local.get 0) (local.get 1)))
  ;; copy_in / copy_out between the memories, and fill/init on the VFS memory
  (func (export "copy_in") (param i32 i32 i32) (memory.copy $vfs $app (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy_out") (param i32 i32 i32) (memory.copy $app $vfs (local.get 0) (local.get 1) (local.get 2)))
  (func (export "vfs_fill") (param i32 i32 i32) (memory.fill $vfs (local.get 0) (local.get 1) (local.get 2)))
  (func (export "vfs_init") (param i32) (memory.init $vfs $p (local.get 0) (i32.const 0) (i32.const 8)))
  (func (export "app_init") (param i32) (memory.init $app $p (local.get 0) (i32.const 0) (i32.const 8)))
)
"#;

fn run_both(wat: &str, script: impl Fn(&mut Runner) -> Result<Vec<i64>>) -> Result<()> {
    let multi = wat::parse_str(wat)?;
    let (single, _) = lower_memories(&multi, &mut |p, _| Ok(p.to_vec()))?;
    let a = script(&mut Runner::new(&multi)?)?;
    let b = script(&mut Runner::new(&single)?)?;
    assert_eq!(a, b);
    Ok(())
}

struct Runner {
    store: Store<()>,
    instance: Instance,
}

impl Runner {
    fn new(bytes: &[u8]) -> Result<Self> {
        let mut config = Config::new();
        config.wasm_multi_memory(true);
        let engine = Engine::new(&config)?;
        let module = Module::new(&engine, bytes)?;
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[])?;
        Ok(Runner { store, instance })
    }

    fn call<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &mut self,
        name: &str,
        p: P,
    ) -> Result<R> {
        let f = self
            .instance
            .get_typed_func::<P, R>(&mut self.store, name)?;
        Ok(f.call(&mut self.store, p)?)
    }

    fn n(&mut self, name: &str) -> Result<i64> {
        Ok(i64::from(self.call::<(), i32>(name, ())?))
    }

    fn i(&mut self, name: &str, p: i32) -> Result<i64> {
        Ok(i64::from(self.call::<i32, i32>(name, p)?))
    }
}

#[test]
fn a_lowered_module_has_one_memory_and_behaves_the_same() -> Result<()> {
    let multi = wat::parse_str(TWO)?;
    let (single, lowering) = lower_memories(&multi, &mut |p, _| Ok(p.to_vec()))?;
    assert_eq!(lowering.bases, [0, 2 * 65536]);
    let memories: u32 = wasmparser::Parser::new(0)
        .parse_all(&single)
        .filter_map(|p| match p {
            Ok(wasmparser::Payload::MemorySection(r)) => Some(r.count()),
            _ => None,
        })
        .sum();
    assert_eq!(memories, 1);
    wasmparser::Validator::new().validate_all(&single)?;

    run_both(TWO, |r| {
        let mut seen = vec![r.n("app_size")?, r.n("vfs_size")?];
        seen.push(r.i("vfs_load", 4)?); // "data" of "vfs-data"
        r.call::<(i32, i32), ()>("vfs_store", (100, 0x1234_5678))?;
        r.call::<(i32, i64), ()>("vfs_store64", (200, -5))?;
        r.call::<(i32, i32), ()>("app_store", (300, 77))?;
        // The app grows many times: the VFS's contents stay, the app sees only its pages.
        for _ in 0..3 {
            seen.push(r.i("app_grow", 1)?);
            seen.push(r.n("app_size")?);
            seen.push(r.i("vfs_load", 100)?);
            seen.push(r.call::<i32, i64>("vfs_load64", 200)?);
            seen.push(r.i("app_load", 300)?);
            seen.push(r.i("vfs_load", 0)?);
        }
        // Past the declared maximum (5): fails, changes nothing.
        seen.push(r.i("app_grow", 1)?);
        seen.push(r.i("app_grow", -1)?);
        seen.push(r.n("app_size")?);
        // The VFS grows; its new page reads as zeros.
        seen.push(r.i("vfs_grow", 2)?);
        seen.push(r.n("vfs_size")?);
        seen.push(r.i("vfs_load", 2 * 65536)?);
        seen.push(r.i("vfs_load", 100)?);
        // Bulk memory across the memories.
        r.call::<(i32, i32, i32), ()>("copy_in", (1000, 16, 8))?;
        seen.push(r.call::<i32, i64>("vfs_load64", 1000)?);
        r.call::<(i32, i32, i32), ()>("copy_out", (500, 8, 8))?;
        seen.push(r.i("app_load", 500)?);
        r.call::<(i32, i32, i32), ()>("vfs_fill", (1000, 0x41, 4))?;
        seen.push(r.call::<i32, i64>("vfs_load64", 1000)?);
        r.call::<i32, ()>("vfs_init", 2000)?;
        seen.push(r.call::<i32, i64>("vfs_load64", 2000)?);
        r.call::<i32, ()>("app_init", 2000)?;
        seen.push(r.i("app_load", 2000)?);
        // Grow the app again after the VFS grew: the app's new page is zero.
        seen.push(r.i("app_grow", 0)?);
        seen.push(r.i("app_load", 4 * 65536)?);
        seen.push(r.i("vfs_load", 2 * 65536 - 4)?);
        Ok(seen)
    })
}

#[test]
fn newly_grown_app_pages_are_zero_after_the_move() -> Result<()> {
    run_both(TWO, |r| {
        r.call::<(i32, i32), ()>("vfs_store", (0, -1))?;
        r.call::<(i32, i32), ()>("vfs_store", (65528, -1))?;
        let mut seen = vec![r.i("app_grow", 2)?];
        for addr in [2 * 65536, 3 * 65536 - 4, 4 * 65536 - 4] {
            seen.push(r.i("app_load", addr)?);
        }
        seen.push(r.i("vfs_load", 0)?);
        seen.push(r.i("vfs_load", 65528)?);
        seen.push(r.i("vfs_load", 65524)?);
        Ok(seen)
    })
}

#[test]
fn a_single_memory_module_is_unchanged_and_exported_extra_memories_are_refused() -> Result<()> {
    let one = wat::parse_str(r#"(module (memory (export "memory") 1))"#)?;
    assert_eq!(lower_memories(&one, &mut |p, _| Ok(p.to_vec()))?.0, one);
    let exported =
        wat::parse_str(r#"(module (memory (export "memory") 1) (memory (export "other") 1))"#)?;
    let err = lower_memories(&exported, &mut |p, _| Ok(p.to_vec())).unwrap_err();
    assert!(matches!(err, MergeError::Lowering(_)), "{err}");
    assert!(
        err.to_string().contains("memory 1 is exported as `other`"),
        "{err}"
    );
    let atomics = wat::parse_str(
        r#"(module (memory (export "memory") 1) (memory 1)
             (func (result i32) (i32.atomic.load 1 (i32.const 0))))"#,
    )?;
    let err = lower_memories(&atomics, &mut |p, _| Ok(p.to_vec())).unwrap_err();
    assert!(err.to_string().contains("uses memory 1"), "{err}");
    Ok(())
}

#[test]
fn growth_within_the_headroom_moves_nothing_and_still_reads_zeros() -> Result<()> {
    // An application of 8 pages without a maximum grows a page at a time: the first growth
    // takes headroom (an eighth of its size), the next ones fit in it.
    let wat = TWO.replace(
        r#"(memory $app (export "memory") 2 5)"#,
        r#"(memory $app (export "memory") 8)"#,
    );
    run_both(&wat, |r| {
        r.call::<(i32, i32), ()>("vfs_store", (0, 0x0102_0304))?;
        let mut seen = Vec::new();
        for _ in 0..20 {
            let old = r.i("app_grow", 1)?;
            seen.push(old);
            let last = (old as i32 + 1) * 65536 - 4;
            seen.push(r.i("app_load", last)?);
            r.call::<(i32, i32), ()>("app_store", (last, old as i32))?;
            seen.push(r.i("app_load", last)?);
            seen.push(r.i("vfs_load", 0)?);
            seen.push(r.i("vfs_load", 16)?);
        }
        seen.push(r.n("app_size")?);
        seen.push(r.n("vfs_size")?);
        Ok(seen)
    })
}
