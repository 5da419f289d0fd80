use super::*;
use wasivfs_trampoline_gen::check_app;

#[test]
fn guest_paths_are_normalized() {
    assert_eq!(normalize_guest_path("/").unwrap(), "/");
    assert_eq!(normalize_guest_path("//src/./lib/").unwrap(), "/src/lib");
    assert!(normalize_guest_path("src").is_err());
    assert!(normalize_guest_path("/a/../b").is_err());
}

#[test]
fn embedded_vfs_has_init_and_memory() {
    let prepared = snapshot::prepare(VFS_WASM, std::path::Path::new("test.wasm"), None).unwrap();
    assert!(prepared.initial_pages() > 0);
    let exports: Vec<String> = wasmparser::Parser::new(0)
        .parse_all(VFS_WASM)
        .filter_map(|p| match p.unwrap() {
            wasmparser::Payload::ExportSection(r) => Some(
                r.into_iter()
                    .map(|e| e.unwrap().name.to_string())
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(exports.iter().any(|e| e == snapshot::INIT_FUNC));
    assert!(exports.iter().any(|e| e == "memory"));
}

/// Opens `f.txt` in preopen fd 3 and writes its contents to stdout; exit 1/2 on errno.
const CAT: &str = include_str!("../../fixtures/wat/cat.wat");

struct Fixture {
    dir: tempfile::TempDir,
    opts: PackOptions,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("cat.wasm");
    std::fs::write(&input, wat::parse_str(CAT).unwrap()).unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("f.txt"), b"embedded contents\n").unwrap();
    let opts = PackOptions {
        input,
        output: dir.path().join("out.wasm"),
        mappings: vec![Mapping {
            guest: "/src".into(),
            host: tree,
        }],
        ..PackOptions::default()
    };
    Fixture { dir, opts }
}

#[test]
fn packed_module_serves_the_file_and_records_the_layer() {
    for memory in [MemoryMode::Multi, MemoryMode::Single] {
        serves_the_file_and_records_the_layer(memory);
    }
}

fn serves_the_file_and_records_the_layer(memory: MemoryMode) {
    let mut f = fixture();
    f.opts.memory = memory;
    let report = pack(&f.opts).unwrap();
    let bytes = std::fs::read(&f.opts.output).unwrap();
    assert_eq!(report.output_size, bytes.len() as u64);
    assert_eq!((report.info.files, report.info.dirs), (1, 1));
    assert!(report.info.trampolines.contains(&"path_open".to_string()));

    let layers = info::read_layers(&bytes);
    assert_eq!(layers.len(), 1);
    let layer = layers[0].clone().unwrap();
    assert_eq!(layer, report.info);
    let app = std::fs::read(&f.opts.input).unwrap();
    assert_eq!(layer.input.sha256, info::sha256_hex(&app));
    assert_eq!(layer.memory, memory);
    let memories = wasivfs_trampoline_gen::check_app(&bytes).unwrap().memories;
    match memory {
        MemoryMode::Single => {
            assert_eq!(memories.len(), 1);
            assert_eq!(layer.vfs_memory, 0);
            // The VFS region starts right after the application's initial pages.
            assert_eq!(
                layer.vfs_base,
                check_app(&app).unwrap().memories[0].initial_pages * PAGE
            );
        }
        MemoryMode::Multi => {
            assert_eq!(memories.len(), 2);
            assert_eq!((layer.vfs_memory, layer.vfs_base), (1, 0));
        }
    }
    // The image can be read back without a runtime.
    let image = wasivfs_trampoline_gen::memory_region(
        &bytes,
        layer.vfs_memory,
        (layer.vfs_base + u64::from(layer.image_addr)) as u32,
        layer.image_len,
    )
    .unwrap();
    let img = wasivfs_image::Image::parse(&image).unwrap();
    assert_eq!(img.mount(0).unwrap().path, b"/src");

    let engine = wasivfs_module_cache::engine().unwrap();
    let opts = wasivfs_module_cache::RunOptions {
        args: vec!["out.wasm".into()],
        stdio: wasivfs_module_cache::Stdio::Capture { stdin: Vec::new() },
        ..Default::default()
    };
    let out = wasivfs_module_cache::run_bytes(&engine, &bytes, &opts).unwrap();
    assert_eq!(out.trap, None);
    assert_eq!(out.exit_code, 0);
    assert_eq!(out.stdout, b"embedded contents\n");
    // The unpacked module sees nothing at fd 3.
    let out = wasivfs_module_cache::run_bytes(&engine, &app, &opts).unwrap();
    assert_eq!(out.exit_code, 1);
}

#[test]
fn packing_is_reproducible() {
    let mut f = fixture();
    for memory in [MemoryMode::Multi, MemoryMode::Single] {
        f.opts.memory = memory;
        let (a, _) = pack_to_bytes(&f.opts).unwrap();
        let (b, _) = pack_to_bytes(&f.opts).unwrap();
        assert_eq!(a, b, "--memory {memory}");
    }
}

#[test]
fn failed_pack_leaves_the_output_untouched() {
    let f = fixture();
    std::fs::write(&f.opts.output, b"previous").unwrap();
    let tree = &f.opts.mappings[0].host;
    std::os::unix::fs::symlink("../../outside", tree.join("escape")).unwrap();
    let err = pack(&f.opts).unwrap_err().to_string();
    assert!(err.contains("escape"), "{err}");
    assert_eq!(std::fs::read(&f.opts.output).unwrap(), b"previous");
    let names: Vec<String> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".wasivfs-")),
        "{names:?}"
    );

    // A module that is not wasm names the input.
    std::fs::remove_file(tree.join("escape")).unwrap();
    std::fs::write(&f.opts.input, b"not wasm").unwrap();
    let err = pack(&f.opts).unwrap_err().to_string();
    assert!(err.contains("cat.wasm") && err.contains("magic"), "{err}");
    assert_eq!(std::fs::read(&f.opts.output).unwrap(), b"previous");
}

/// The content region of `dir` walked as one mapping, read back through a [`content::ContentReader`]
/// after `change` ran on the tree.
fn read_contents_after(dir: &std::path::Path, change: impl FnOnce()) -> Result<Vec<u8>> {
    let walked = walk::walk(
        &[Mapping {
            guest: "/t".into(),
            host: dir.to_path_buf(),
        }],
        &walk::WalkOptions::default(),
    )?;
    let layout = walked
        .builder
        .finish(wasivfs_image::builder::Limits::format_max(4))
        .unwrap();
    change();
    let mut reader = content::ContentReader::new(layout.blobs, walked.roots, Arc::new(NoProgress));
    let mut out = vec![0u8; layout.content_len as usize];
    reader.read(&mut out)?;
    assert_eq!(reader.position(), layout.content_len);
    Ok(out)
}

#[test]
fn contents_are_read_once_in_layout_order_and_changes_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), b"alpha").unwrap();
    std::fs::write(dir.path().join("b"), b"beta").unwrap();
    std::fs::write(dir.path().join("c"), b"alpha").unwrap();
    // Identical contents are stored once.
    assert_eq!(
        read_contents_after(dir.path(), || {}).unwrap(),
        b"alphabeta"
    );

    // A file that grew or shrank since the walk is an error naming it, never silently packed.
    let grow = dir.path().join("b");
    let err = read_contents_after(dir.path(), || std::fs::write(&grow, b"betamax").unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("changed size") && err.contains('b'), "{err}");
    let err = read_contents_after(dir.path(), || std::fs::write(&grow, b"be").unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("changed size"), "{err}");
}

#[test]
fn the_written_output_is_the_module_returned_in_memory() {
    let mut f = fixture();
    let tree = &f.opts.mappings[0].host;
    // Contents of more than one fill (1 MiB) in several segments, a twin, a same-size stranger.
    let big: Vec<u8> = (0..(2 << 20) + 3).map(|i: u32| (i % 251) as u8).collect();
    std::fs::write(tree.join("big"), &big).unwrap();
    std::fs::write(tree.join("twin"), b"embedded contents\n").unwrap();
    std::fs::write(tree.join("other"), b"embedded CONTENTS\n").unwrap();
    f.opts.segment_len = Some(1 << 20);
    for memory in [MemoryMode::Multi, MemoryMode::Single] {
        f.opts.memory = memory;
        let report = pack(&f.opts).unwrap();
        let written = std::fs::read(&f.opts.output).unwrap();
        let (bytes, info) = pack_to_bytes(&f.opts).unwrap();
        assert!(written == bytes, "--memory {memory}: the file differs");
        assert_eq!(report.info, info);
        assert_eq!(report.output_size, written.len() as u64);
        // The twin is stored once; the stranger of the same size is not.
        assert_eq!(info.stored_bytes, big.len() as u64 + 2 * 18);
        assert_eq!(info.content.segments, 3);
    }
}

#[test]
fn a_full_disk_fails_the_pack_naming_the_output() {
    struct Full(usize);
    impl std::io::Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            match self.0.checked_sub(buf.len()) {
                Some(left) => {
                    self.0 = left;
                    Ok(buf.len())
                }
                None => Err(std::io::Error::from_raw_os_error(28)),
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let f = fixture();
    for room in [0, 100, 10_000] {
        let mut out = write::Counting::new(Full(room));
        let err = pack_into(&f.opts, Arc::new(NoProgress), &mut out)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("out.wasm") && err.contains("No space left on device"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
