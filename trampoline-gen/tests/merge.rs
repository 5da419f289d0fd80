//! Merging a fake VFS into a small application, then running the result on wasmtime with host
//! functions that record what reaches them.

mod common;

use anyhow::Result;
use common::{vfs_wat, wasm, Run, APP};
use wasivfs_trampoline_gen::{
    append_layer_section, memory_region, merge, wasivfs_sections, MergeError, Merger, Validation,
};
use wasmparser::{Parser, Payload};

fn merged(app: &[u8], base: i32, marker: &str, note: &str) -> Result<Vec<u8>> {
    let vfs = wasm(&vfs_wat(base, marker));
    Ok(merge(app, &vfs, |_| note.as_bytes().to_vec())?)
}

#[test]
fn plan_lists_trampolines_stubs_and_memories() -> Result<()> {
    let app = wasm(APP);
    let vfs = wasm(&vfs_wat(100, "VFS!"));
    let m = Merger::new(&app, &vfs, 0)?;
    let plan = m.plan();
    assert_eq!(plan.trampolines, ["fd_write", "path_open", "fd_read"]);
    assert_eq!(plan.stubs, ["fd_close"]);
    assert_eq!(plan.intrinsics.len(), 11);
    assert_eq!((plan.app_memory, plan.vfs_memory), (0, 1));
    // 5 imports + 11 defined functions in the app.
    assert_eq!(plan.first_vfs_function, 16);
    // write, read, write_ref and open name intercepted imports; the rest are copied raw.
    assert_eq!(plan.rewritten_bodies, 4);
    assert_eq!(plan.app.packed_layers, 0);
    Ok(())
}

#[test]
fn calls_go_through_the_vfs_and_fall_through_to_the_host() -> Result<()> {
    let app = wasm(APP);
    let out = merged(&app, 100, "VFS!", "{}")?;
    let mut run = Run::new(&out)?;

    // The start function still ran; raw-copied bodies and other imports still work.
    let started = run
        .instance
        .get_typed_func::<(), i32>(&mut run.store, "started")?;
    assert_eq!(started.call(&mut run.store, ())?, 1);
    assert_eq!(run.peek(32, 4), 77u32.to_le_bytes());
    assert_eq!(run.call4("plain", (5, 0, 0, 0))?, 1005);
    assert_eq!(run.call1("plain_indirect", 6)?, 1006);
    let log = run
        .instance
        .get_typed_func::<i32, ()>(&mut run.store, "log_it")?;
    log.call(&mut run.store, 31)?;
    assert_eq!(run.store.data().logs, [31]);

    // Fall through: fd 1 reaches the host's fd_write, whose result comes back.
    assert_eq!(run.call4("write", (1, 0, 1, 8))?, 9);
    assert_eq!(run.store.data().writes, [1]);
    assert_eq!(run.call4("read", (0, 0, 1, 8))?, 8);

    // Served by the VFS: the marker lands in the app buffer through copy_out/store_u32.
    run.iovec(64)?;
    assert_eq!(run.call4("write", (100, 0, 1, 8))?, 0);
    assert_eq!(run.peek(64, 4), b"VFS!");
    assert_eq!(run.peek(8, 4), 4u32.to_le_bytes());
    assert_eq!(
        run.store.data().writes,
        [1],
        "the VFS answered without the host"
    );

    // A preview 1 function the app never imported is an ENOSYS stub.
    assert_eq!(run.call4("write", (101, 0, 1, 8))?, 52);
    // size() sees the app memory (2 pages), not the VFS memory (1 page).
    assert_eq!(run.call4("write", (102, 0, 1, 8))?, 2);
    // The VFS's own table and element segment were relocated.
    assert_eq!(run.call4("write", (103, 0, 1, 8))?, 40);
    // copy_in reads app memory into VFS memory.
    run.poke(64, b"ABCD")?;
    assert_eq!(
        run.call4("write", (104, 0, 1, 8))?,
        i32::from_le_bytes(*b"ABCD")
    );

    // Unaligned loads and stores on app memory.
    run.poke(301, &0x1122_3344_5566_7788u64.to_le_bytes())?;
    assert_eq!(run.call4("write", (105, 0, 1, 8))?, 0xBEEF + 0xFF);
    assert_eq!(run.peek(203, 8), 0x1122_3344_5566_7788u64.to_le_bytes());
    assert_eq!(run.peek(101, 2), 0xBEEFu16.to_le_bytes());
    assert_eq!(run.peek(99, 1), [0xFF]);

    // The element segment entry and the ref.func of fd_write were redirected too.
    run.poke(64, b"0000")?;
    assert_eq!(run.call4("write_indirect", (100, 0, 1, 8))?, 0);
    assert_eq!(run.peek(64, 4), b"VFS!");
    run.poke(64, b"0000")?;
    assert_eq!(run.call4("write_ref", (100, 0, 1, 8))?, 0);
    assert_eq!(run.peek(64, 4), b"VFS!");
    assert_eq!(run.call4("write_indirect", (2, 0, 1, 8))?, 9);
    assert_eq!(run.store.data().writes, [1, 2]);

    // path_open through the VFS, and falling through to the host.
    assert_eq!(run.call1("open", 100)?, 0);
    assert_eq!(run.peek(40, 4), 142u32.to_le_bytes());
    assert_eq!(run.call1("open", 3)?, 44);
    assert_eq!(run.store.data().opens, [3]);

    // Every fd_write call reached the VFS: 10 so far, this one is the 11th.
    assert_eq!(run.call4("write", (106, 0, 1, 8))?, 11);
    Ok(())
}

#[test]
fn merged_module_keeps_exports_and_custom_sections() -> Result<()> {
    let app = wasm(APP);
    let out = merged(&app, 100, "VFS!", r#"{"format":1}"#)?;
    let (mut exports, mut customs, mut memories) = (Vec::new(), Vec::new(), 0);
    for payload in Parser::new(0).parse_all(&out) {
        match payload? {
            Payload::ExportSection(r) => {
                for e in r {
                    exports.push(e?.name.to_string());
                }
            }
            Payload::CustomSection(r) => customs.push(r.name().to_string()),
            Payload::MemorySection(r) => memories += r.count(),
            _ => {}
        }
    }
    let mut app_exports = Vec::new();
    for payload in Parser::new(0).parse_all(&app) {
        if let Payload::ExportSection(r) = payload? {
            for e in r {
                app_exports.push(e?.name.to_string());
            }
        }
    }
    assert_eq!(
        exports, app_exports,
        "no VFS export leaks into the merged module"
    );
    assert_eq!(memories, 2);
    assert_eq!(
        customs,
        ["name", "wasivfs"],
        "custom sections kept, wasivfs last"
    );
    assert_eq!(wasivfs_sections(&out), [br#"{"format":1}"#.to_vec()]);
    Ok(())
}

#[test]
fn memory_region_reads_data_segments_back() -> Result<()> {
    let app = wasm(APP);
    let out = merged(&app, 100, "VFS!", "{}")?;
    assert_eq!(memory_region(&out, 1, 1022, 8)?, b"\0\0VFS!\0\0");
    assert_eq!(memory_region(&out, 0, 16, 5)?, b"hello");
    assert_eq!(memory_region(&out, 0, 1024, 4)?, [0; 4]);
    Ok(())
}

#[test]
fn merge_is_deterministic() -> Result<()> {
    let app = wasm(APP);
    let a = merged(&app, 100, "VFS!", "{}")?;
    let b = merged(&app, 100, "VFS!", "{}")?;
    assert_eq!(a, b);
    Ok(())
}

#[test]
fn merging_a_merged_module_chains_the_layers() -> Result<()> {
    let app = wasm(APP);
    let once = merged(&app, 100, "VFS!", "first")?;
    let vfs2 = wasm(&vfs_wat(200, "TWO!"));
    let m = Merger::new(&once, &vfs2, 0)?;
    assert_eq!(m.plan().vfs_memory, 2);
    assert_eq!(m.plan().app.packed_layers, 1);
    let mut twice = m.emit(Validation::Full, None)?;
    append_layer_section(&mut twice, b"second")?;
    assert_eq!(
        wasivfs_sections(&twice),
        [b"first".to_vec(), b"second".to_vec()]
    );
    assert_eq!(memory_region(&twice, 2, 1024, 4)?, b"TWO!");
    assert_eq!(memory_region(&twice, 1, 1024, 4)?, b"VFS!");

    let mut run = Run::new(&twice)?;
    run.iovec(64)?;
    // The first layer serves its fds.
    assert_eq!(run.call4("write", (100, 0, 1, 8))?, 0);
    assert_eq!(run.peek(64, 4), b"VFS!");
    // The first layer falls through into the second, which serves its fds.
    assert_eq!(run.call4("write", (200, 0, 1, 8))?, 0);
    assert_eq!(run.peek(64, 4), b"TWO!");
    // Both fall through to the host.
    assert_eq!(run.call4("write", (1, 0, 1, 8))?, 9);
    assert_eq!(run.store.data().writes, [1]);
    // The second layer saw the two calls the first passed on; this is its third.
    assert_eq!(run.call4("write", (206, 0, 1, 8))?, 3);
    // path_open passes through both layers.
    assert_eq!(run.call1("open", 200)?, 0);
    assert_eq!(run.peek(40, 4), 242u32.to_le_bytes());
    assert_eq!(run.call1("open", 5)?, 44);
    Ok(())
}

#[test]
fn merge_refuses_a_vfs_without_a_needed_export() {
    let vfs = vfs_wat(100, "VFS!").replace("\"wasivfs_fd_read\"", "\"something_else\"");
    assert_vfs_refused(&vfs, "wasivfs_fd_read");
}

/// Merging `vfs` (text) into the test application fails with a VFS error that names `needle`.
fn assert_vfs_refused(vfs: &str, needle: &str) {
    let err = merge(&wasm(APP), &wasm(vfs), |_| Vec::new()).err();
    assert!(
        matches!(&err, Some(MergeError::Vfs(m)) if m.contains(needle)),
        "{err:?}"
    );
}

#[test]
fn merge_refuses_an_unprepared_vfs() {
    let text = vfs_wat(100, "VFS!").replacen(
        "(import \"wasivfs_app\" \"copy_in\"",
        "(import \"wasivfs_pack\" \"image_len\" (func (result i32)))\n  (import \"wasivfs_app\" \"copy_in\"",
        1,
    );
    assert_vfs_refused(&text, "wasivfs_pack.image_len");
}

#[test]
fn merge_refuses_a_vfs_import_with_the_wrong_signature() {
    let text = vfs_wat(100, "VFS!").replace(
        "\"size\" (func $size (result i32))",
        "\"size\" (func $size (result i64))",
    );
    let text = text.replace(
        "(then (return (call $size))))",
        "(then (return (i32.wrap_i64 (call $size)))))",
    );
    assert_vfs_refused(&text, "size");
}

#[test]
fn an_app_without_intercepted_imports_is_copied_unchanged_around_the_vfs() -> Result<()> {
    let app = wasm(
        r#"(module
             (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
             (memory (export "memory") 1)
             (func (export "f") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3))))"#,
    );
    let vfs = wasm(&vfs_wat(100, "VFS!"));
    let m = Merger::new(&app, &vfs, 0)?;
    assert!(m.plan().trampolines.is_empty());
    assert_eq!(
        m.plan().stubs,
        ["fd_write", "path_open", "fd_close", "fd_read"]
    );
    let out = m.emit(Validation::Full, None)?;
    let mut run = Run::new(&out)?;
    assert_eq!(run.call1("f", 14)?, 42);
    Ok(())
}

#[test]
fn validation_modes_give_the_same_bytes() -> Result<()> {
    let app = wasm(APP);
    let vfs = wasm(&vfs_wat(100, "VFS!"));
    let m = Merger::new(&app, &vfs, 0)?;
    assert_eq!(
        m.emit(Validation::Full, None)?,
        m.emit(Validation::Changed, None)?
    );
    Ok(())
}

#[test]
fn an_invalid_input_body_is_reported_as_such() -> Result<()> {
    // `wat` does not type-check: this body returns an i64 where an i32 is declared.
    let app = wasm(
        r#"(module
             (memory (export "memory") 1)
             (func (export "bad") (result i32) (i64.const 1)))"#,
    );
    let vfs = wasm(&vfs_wat(100, "VFS!"));
    let m = Merger::new(&app, &vfs, 0)?;
    let full = m.emit(Validation::Full, None);
    assert!(matches!(full, Err(MergeError::InvalidInput(_))), "{full:?}");
    // The cheaper mode trusts copied bodies, so only the full one notices.
    assert!(m.emit(Validation::Changed, None).is_ok());
    Ok(())
}

#[test]
fn padded_call_indices_are_patched_in_place() -> Result<()> {
    use wasm_encoder::{
        CodeSection, EntityType, ExportKind, ExportSection, Function, FunctionSection,
        ImportSection, MemorySection, MemoryType, Module, TypeSection, ValType,
    };
    let i = ValType::I32;
    let mut types = TypeSection::new();
    types.ty().function([i, i, i, i], [i]);
    let mut imports = ImportSection::new();
    imports.import(
        "wasi_snapshot_preview1",
        "fd_write",
        EntityType::Function(0),
    );
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut exports = ExportSection::new();
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("write", ExportKind::Func, 1);
    let mut body = Function::new([]);
    // local.get 0..3, then `call 0` with the index padded to 5 bytes, as linkers leave it.
    body.raw([
        0x20, 0, 0x20, 1, 0x20, 2, 0x20, 3, 0x10, 0x80, 0x80, 0x80, 0x80, 0x00, 0x0b,
    ]);
    let mut code = CodeSection::new();
    code.function(&body);
    let mut module = Module::new();
    module
        .section(&types)
        .section(&imports)
        .section(&funcs)
        .section(&memories)
        .section(&exports)
        .section(&code);
    let app = module.finish();

    let out = merged(&app, 100, "VFS!", "{}")?;
    let first_body = |bytes: &[u8]| -> Result<(usize, Vec<u8>)> {
        let mut start = 0;
        for payload in Parser::new(0).parse_all(bytes) {
            match payload? {
                Payload::CodeSectionStart {
                    unchecked_range,
                    size,
                    ..
                } => start = (unchecked_range.end - u64::from(size)) as usize,
                Payload::CodeSectionEntry(b) => {
                    let r = b.range();
                    return Ok((
                        r.start as usize - start,
                        bytes[r.start as usize..r.end as usize].to_vec(),
                    ));
                }
                _ => {}
            }
        }
        anyhow::bail!("no code")
    };
    let (offset_in, body_in) = first_body(&app)?;
    let (offset_out, body_out) = first_body(&out)?;
    assert_eq!(
        offset_in, offset_out,
        "the body keeps its offset in the code section"
    );
    assert_eq!(body_in.len(), body_out.len(), "the body keeps its size");
    let differing: Vec<usize> = (0..body_in.len())
        .filter(|&k| body_in[k] != body_out[k])
        .collect();
    assert!(
        differing.iter().all(|&k| (10..15).contains(&k)),
        "{differing:?}"
    );

    let mut run = Run::new(&out)?;
    run.iovec(64)?;
    assert_eq!(run.call4("write", (100, 0, 1, 8))?, 0);
    assert_eq!(run.peek(64, 4), b"VFS!");
    assert_eq!(run.call4("write", (1, 0, 1, 8))?, 9);
    Ok(())
}
