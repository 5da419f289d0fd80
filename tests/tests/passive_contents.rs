//! File contents live in passive data segments: checked on the output module itself, for a tree of
//! more than 64 MiB, and the packed module still reads every file as the host-mapped oracle does.

use wasivfs_e2e::run::{differential_one, map, pack_in, stdout};
use wasivfs_e2e::{fixtures, trees};
use wasivfs_packer::MemoryMode;
use wasmparser::{DataKind, Parser, Payload};

const FILES: usize = 1_500;
const BYTES: u64 = 70 << 20;

/// What the output module holds, read with wasmparser alone.
#[derive(Debug, Default)]
struct Shape {
    /// Initial pages of every memory, in index order.
    memories: Vec<u64>,
    /// Bytes of active segments per memory index.
    active: Vec<(u32, u64)>,
    /// Lengths of passive segments.
    passive: Vec<u64>,
    data_count: Option<u32>,
}

fn shape(module: &[u8]) -> Shape {
    let mut s = Shape::default();
    for payload in Parser::new(0).parse_all(module) {
        match payload.expect("the output parses") {
            Payload::MemorySection(r) => {
                for m in r {
                    s.memories.push(m.expect("memory").initial);
                }
            }
            Payload::DataCountSection { count, .. } => s.data_count = Some(count),
            Payload::DataSection(r) => {
                for d in r {
                    let d = d.expect("data segment");
                    match d.kind {
                        DataKind::Active { memory_index, .. } => {
                            s.active.push((memory_index, d.data.len() as u64))
                        }
                        DataKind::Passive => s.passive.push(d.data.len() as u64),
                    }
                }
            }
            _ => {}
        }
    }
    s
}

#[test]
fn large_tree_contents_are_passive_and_vfs_memory_stays_small() {
    let t = trees::bulk(FILES, BYTES).unwrap();
    let file_bytes: u64 = std::fs::read_to_string(t.join("files.txt"))
        .unwrap()
        .lines()
        .map(|rel| std::fs::metadata(t.join(rel)).unwrap().len())
        .sum();
    assert!(file_bytes >= 64 << 20, "tree holds only {file_bytes} bytes");
    let entries = FILES as u64 + 60;

    // 16 MiB segments, so that the contents span several of them.
    let module = fixtures::fsops();
    // Two memories, so that the VFS memory's size can be read off the memory section.
    let packed = pack_in(
        &module,
        &[map("/t", t.path())],
        Some(16 << 20),
        MemoryMode::Multi,
    )
    .unwrap();
    let s = shape(&packed);

    // The application's memory is memory 0, the VFS's memory 1.
    assert_eq!(s.memories.len(), 2, "{s:?}");
    let vfs_bytes = s.memories[1] * 65536;
    let target = (2 << 20) + 100 * entries;
    assert!(
        vfs_bytes <= target,
        "VFS memory starts at {vfs_bytes} bytes, target {target} ({entries} entries)"
    );
    // No file content is placed in a linear memory at instantiation: active data is small.
    let active: u64 = s.active.iter().map(|(_, n)| n).sum();
    assert!(active < 1 << 20, "{active} bytes of active data");
    // Every byte of content sits in passive segments (the fsops probe has none of its own).
    let passive: u64 = s.passive.iter().sum();
    let listing = std::fs::metadata(t.join("files.txt")).unwrap().len();
    assert!(
        passive >= file_bytes && passive <= file_bytes + listing,
        "passive {passive}, files {file_bytes}"
    );
    assert!(s.passive.len() >= 5, "{} segments", s.passive.len());
    assert!(s.passive.iter().all(|n| *n <= 16 << 20));
    assert!(
        s.data_count.is_some(),
        "memory.init needs a data count section"
    );

    // And every file reads back as host-mapped (both segment layouts, see `Differential`).
    let d = differential_one(
        &module,
        &["fsops", "/t", "readlist", "files.txt"],
        "/t",
        t.path(),
    )
    .unwrap();
    d.assert_same("large tree");
    let out = stdout(&d.packed);
    assert!(out.contains(&format!("files={FILES} failed=0")), "{out}");
}
