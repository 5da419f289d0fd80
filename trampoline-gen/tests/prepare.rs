//! `prepare_vfs`: the walrus cleanup of a snapshotted VFS before merging.

mod common;

use anyhow::Result;
use common::{wasm, Run};
use wasivfs_trampoline_gen::{merge, prepare_vfs, MergeError};
use wasmparser::{Parser, Payload};

/// A VFS as Wizer leaves it: init export and pack imports still present.
fn snapshot(fd_write_body: &str) -> Vec<u8> {
    wasm(&format!(
        r#"(module
  (import "wasivfs_pack" "image_len" (func $len (result i32)))
  (import "wasivfs_pack" "image_placed" (func $placed (param i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $host_fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $host_fd_close (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $image (mut i32) (i32.const 0))
  (func $reserve (drop (memory.grow (i32.const 1))))
  (func (export "wasivfs_init") (call $reserve) (call $placed (i32.const 0) (call $len)))
  (func (export "debug_dump") (result i32) (call $host_fd_close (i32.const 9)))
  (func (export "wasivfs_fd_write") (param i32 i32 i32 i32) (result i32)
    {fd_write_body}))"#
    ))
}

fn imports_and_exports(bytes: &[u8]) -> Result<(Vec<String>, Vec<String>, u32)> {
    let (mut imports, mut exports, mut funcs) = (Vec::new(), Vec::new(), 0);
    for payload in Parser::new(0).parse_all(bytes) {
        match payload? {
            Payload::ImportSection(r) => {
                for i in r.into_imports() {
                    let i = i?;
                    imports.push(format!("{}.{}", i.module, i.name));
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    exports.push(e?.name.to_string());
                }
            }
            Payload::FunctionSection(r) => funcs = r.count(),
            _ => {}
        }
    }
    Ok((imports, exports, funcs))
}

#[test]
fn drops_init_code_pack_imports_and_other_exports() -> Result<()> {
    let body = "(i32.add (call $host_fd_write (local.get 0) (local.get 1) (local.get 2) (local.get 3)) (i32.const 100))";
    let prepared = prepare_vfs(&snapshot(body), None)?;
    let (imports, exports, funcs) = imports_and_exports(&prepared)?;
    assert_eq!(imports, ["wasi_snapshot_preview1.fd_write"]);
    assert_eq!(exports, ["wasivfs_fd_write"]);
    assert_eq!(funcs, 1);

    // The prepared VFS merges and runs.
    let app = wasm(
        r#"(module
             (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 1)
             (func (export "write") (param i32 i32 i32 i32) (result i32)
               (call $w (local.get 0) (local.get 1) (local.get 2) (local.get 3))))"#,
    );
    let out = merge(&app, &prepared, |plan| {
        assert!(plan.stubs.is_empty());
        b"{}".to_vec()
    })?;
    let mut run = Run::new(&out)?;
    assert_eq!(run.call4("write", (1, 0, 0, 0))?, 109);
    assert_eq!(run.store.data().writes, [1]);
    Ok(())
}

#[test]
fn fails_if_a_pack_import_is_still_used() {
    let body = "(drop (call $len)) (i32.const 0)";
    let r = prepare_vfs(&snapshot(body), None);
    assert!(
        matches!(&r, Err(MergeError::Vfs(m)) if m.contains("wasivfs_pack.image_len")),
        "{r:?}"
    );
}

#[test]
fn fails_on_garbage() {
    assert!(matches!(
        prepare_vfs(b"not wasm", None),
        Err(MergeError::Vfs(_))
    ));
}

#[test]
fn data_section_bypasses_walrus_unchanged() -> Result<()> {
    // A snapshot whose data section holds an "image" and whose name section follows it.
    let snap = wasm(
        r#"(module $vfs
  (import "wasivfs_pack" "image_len" (func $len (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $host_fd_close (param i32) (result i32)))
  (memory (export "memory") 3)
  (func $init (export "wasivfs_init") (drop (call $len)))
  (func (export "wasivfs_fd_close") (param i32) (result i32) (call $host_fd_close (local.get 0)))
  (data (i32.const 16) "statics")
  (data (i32.const 65536) "WVFSIMG image bytes")
  (data (i32.const 131070) "\01\02\03\04"))"#,
    );
    let prepared = prepare_vfs(&snap, None)?;
    wasmparser::Validator::new().validate_all(&prepared)?;
    let region = wasivfs_trampoline_gen::memory_region(&prepared, 0, 65536, 19)?;
    assert_eq!(region, b"WVFSIMG image bytes");
    let tail = wasivfs_trampoline_gen::memory_region(&prepared, 0, 131070, 4)?;
    assert_eq!(tail, [1, 2, 3, 4]);
    let low = wasivfs_trampoline_gen::memory_region(&prepared, 0, 16, 7)?;
    assert_eq!(low, b"statics");
    let (imports, exports, _) = imports_and_exports(&prepared)?;
    assert_eq!(imports, ["wasi_snapshot_preview1.fd_close"]);
    assert_eq!(exports, ["wasivfs_fd_close"]);
    Ok(())
}

#[test]
fn image_becomes_a_data_segment_after_the_snapshots() -> Result<()> {
    // Wizer's segments (statics) stay as they are; the image lands in the pages reserved for it.
    let snap = wasm(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_close" (func $host_fd_close (param i32) (result i32)))
  (memory (export "memory") 3)
  (func (export "wasivfs_fd_close") (param i32) (result i32) (call $host_fd_close (local.get 0)))
  (data (i32.const 16) "statics"))"#,
    );
    let image = wasivfs_trampoline_gen::PlacedImage {
        addr: 65536,
        bytes: b"WVFSIMG image bytes",
    };
    let prepared = prepare_vfs(&snap, Some(image))?;
    wasmparser::Validator::new().validate_all(&prepared)?;
    let region = wasivfs_trampoline_gen::memory_region(&prepared, 0, 65536, 19)?;
    assert_eq!(region, b"WVFSIMG image bytes");
    let low = wasivfs_trampoline_gen::memory_region(&prepared, 0, 16, 7)?;
    assert_eq!(low, b"statics");

    // Without any data section of its own, too.
    let bare = wasm(r#"(module (memory (export "memory") 2))"#);
    let prepared = prepare_vfs(&bare, Some(image))?;
    wasmparser::Validator::new().validate_all(&prepared)?;
    let region = wasivfs_trampoline_gen::memory_region(&prepared, 0, 65536, 19)?;
    assert_eq!(region, b"WVFSIMG image bytes");

    // An image past the reserved pages is refused.
    let past = wasivfs_trampoline_gen::PlacedImage {
        addr: 3 * 65536 - 4,
        bytes: b"too long",
    };
    let r = prepare_vfs(&snap, Some(past));
    assert!(
        matches!(&r, Err(MergeError::Vfs(m)) if m.contains("does not fit")),
        "{r:?}"
    );
    Ok(())
}

#[test]
fn content_segments_are_filled_while_writing() -> Result<()> {
    use wasivfs_trampoline_gen::{memory_region, passive_segments, Content, Merger, Validation};
    let prepared = prepare_vfs(&snapshot("(i32.const 0)"), None)?;
    let app = wasm(
        r#"(module
             (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 1)
             (data (i32.const 8) "app data")
             (data "app passive"))"#,
    );
    let merger = Merger::new(&app, &prepared, 2)?;
    let plan = merger.plan().clone();
    assert_eq!(plan.content_segments, 2);
    let mut calls = 0;
    let mut stream = &b"streamed contents"[..];
    let mut fill = |buf: &mut [u8]| {
        calls += 1;
        let (head, rest) = stream.split_at(buf.len());
        buf.copy_from_slice(head);
        stream = rest;
        Ok(())
    };
    let out = merger.emit(
        Validation::Full,
        Some(Content {
            segment_lens: vec![8, 9],
            fill: &mut fill,
        }),
    )?;
    assert_eq!(calls, 2);
    assert_eq!(
        passive_segments(&out, plan.first_content_segment, 2)?,
        b"streamed contents"
    );
    // The application's own passive segment keeps its index and bytes.
    assert_eq!(passive_segments(&out, 1, 1)?, b"app passive");
    assert_eq!(memory_region(&out, 0, 8, 8)?, b"app data");
    Run::new(&out)?;

    // The announced number of segments must be given.
    assert!(merger.emit(Validation::Full, None).is_err());
    let mut failing = |_: &mut [u8]| Err(std::io::Error::other("disk on fire").into());
    let err = merger
        .emit(
            Validation::Full,
            Some(Content {
                segment_lens: vec![8, 9],
                fill: &mut failing,
            }),
        )
        .unwrap_err();
    assert!(err.to_string().contains("disk on fire"), "{err}");
    // The fill's own error comes back, not a copy of its text.
    match err {
        wasivfs_trampoline_gen::MergeError::Content(e) => {
            assert!(e.downcast_ref::<std::io::Error>().is_some(), "{e}")
        }
        other => panic!("expected the fill's error, got {other}"),
    }
    Ok(())
}

/// Contents of `len` bytes that differ from one offset to the next.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn streamed_output_is_the_in_memory_output() -> Result<()> {
    use wasivfs_trampoline_gen::{
        lower_memories, lower_memories_to, validate_module, Content, Merger, Validation,
    };
    let prepared = prepare_vfs(&snapshot("(i32.const 0)"), None)?;
    let app = wasm(
        r#"(module
             (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 1)
             (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
             (func (export "size") (result i32) (memory.size))
             (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
             (data (i32.const 8) "app data")
             (data "app passive"))"#,
    );
    // More than one fill's worth (1 MiB), so the contents go out in several pieces.
    let lens = vec![(3 << 20) + 5, 7];
    let bytes = pattern(lens.iter().map(|l| *l as usize).sum());
    let merger = Merger::new(&app, &prepared, 2)?;
    let content =
        |stream: &mut &[u8], buf: &mut [u8]| -> Result<(), wasivfs_trampoline_gen::FillError> {
            let (head, rest) = stream.split_at(buf.len());
            buf.copy_from_slice(head);
            *stream = rest;
            Ok(())
        };
    let (mut a, mut b) = (&bytes[..], &bytes[..]);
    let mut fill_a = |buf: &mut [u8]| content(&mut a, buf);
    let mut fill_b = |buf: &mut [u8]| content(&mut b, buf);
    let with = |fill| {
        Some(Content {
            segment_lens: lens.clone(),
            fill,
        })
    };

    // Two memories: the module written to a stream is the module returned in memory.
    let in_memory = merger.emit(Validation::Full, with(&mut fill_a))?;
    let mut streamed = Vec::new();
    merger.emit_to(with(&mut fill_b), &mut streamed)?;
    assert!(streamed == in_memory, "emit_to differs from emit");

    // One memory: lowering the module without its contents and appending them while writing
    // gives the lowering of the whole merged module.
    let (lowered, lowering) = lower_memories(&in_memory, &mut |p, _| Ok(p.to_vec()))?;
    let skeleton = merger.emit_without_content()?;
    // The application's three bodies are only scanned, not parsed: the same output.
    assert_eq!(merger.memory0_bodies(), 3);
    assert!(skeleton.len() < in_memory.len() - bytes.len() + 64);
    let (mut c, mut out) = (&bytes[..], Vec::new());
    let mut fill_c = |buf: &mut [u8]| content(&mut c, buf);
    let streamed_lowering = lower_memories_to(
        &skeleton,
        &mut |p, _| Ok(p.to_vec()),
        with(&mut fill_c),
        merger.memory0_bodies(),
        &mut out,
    )?;
    assert!(
        out == lowered,
        "lower_memories_to differs from lower_memories"
    );
    assert_eq!(streamed_lowering, lowering);
    // `grow` and `size` were rewritten, `load` was not.
    assert_eq!(&lowering.rewritten_positions[..2], &[0, 1]);
    assert!(!lowering.rewritten_positions.contains(&2));
    validate_module(&out).map_err(anyhow::Error::msg)?;
    Run::new(&out)?;

    // A writer that fails (a full disk) fails the write with its own error.
    struct Full(usize);
    impl std::io::Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0 < buf.len() {
                return Err(std::io::ErrorKind::StorageFull.into());
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut d = &bytes[..];
    let mut fill_d = |buf: &mut [u8]| content(&mut d, buf);
    let err = merger
        .emit_to(with(&mut fill_d), &mut Full(1 << 20))
        .unwrap_err();
    match err {
        wasivfs_trampoline_gen::MergeError::Write(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::StorageFull)
        }
        other => panic!("expected the writer's error, got {other}"),
    }
    Ok(())
}
