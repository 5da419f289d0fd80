use super::*;

#[test]
fn guest_paths_are_normalized() {
    assert_eq!(normalize_guest_path("/").unwrap(), "/");
    assert_eq!(normalize_guest_path("//src/./lib/").unwrap(), "/src/lib");
    assert!(normalize_guest_path("src").is_err());
    assert!(normalize_guest_path("/a/../b").is_err());
}

#[test]
fn embedded_vfs_has_init_and_memory() {
    assert!(vfs_initial_pages().unwrap() > 0);
    let exports: Vec<String> = wasmparser::Parser::new(0)
        .parse_all(VFS_WASM)
        .filter_map(|p| match p.unwrap() {
            wasmparser::Payload::ExportSection(r) => {
                Some(r.into_iter().map(|e| e.unwrap().name.to_string()).collect::<Vec<_>>())
            }
            _ => None,
        })
        .flatten()
        .collect();
    assert!(exports.iter().any(|e| e == snapshot::INIT_FUNC));
    assert!(exports.iter().any(|e| e == "memory"));
}
