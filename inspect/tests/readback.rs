//! Reads back a module built by hand: one memory whose data segments hold an image (split in two
//! segments with a zero gap, as a snapshot produces), passive segments with the file contents,
//! plus the `wasivfs` section describing it.

use wasivfs_image::builder::{ImageBuilder, Limits};
use wasivfs_image::section::{
    ContentInfo, InputInfo, LayerInfo, MemoryMode, MountInfo, SECTION_FORMAT,
};
use wasivfs_inspect::{render_list, InspectError, Packed};
use wasm_encoder::{ConstExpr, CustomSection, DataSection, MemorySection, MemoryType, Module};

const ADDR: u32 = 65536;
/// Small, so that files straddle content segments.
const SEGMENT_LEN: u32 = 5;

/// The image, and the content region.
fn image() -> (Vec<u8>, Vec<u8>) {
    let mut b: ImageBuilder<&'static [u8]> = ImageBuilder::new();
    let root = b.add_mount("/src", 1_000_000_000).unwrap();
    let pkg = b.add_dir(root, "pkg", 2_000_000_000).unwrap();
    let body: &'static [u8] = b"print('hi')\n";
    b.add_file(
        root,
        "main.py",
        3_000_000_000,
        body.len() as u64,
        [1; 32],
        body,
    )
    .unwrap();
    b.add_file(pkg, "__init__.py", 4_000_000_000, 0, [2; 32], b"")
        .unwrap();
    b.add_symlink(root, "link.py", "main.py", 5_000_000_000)
        .unwrap();
    b.add_symlink(root, "loop", "loop", 5_000_000_000).unwrap();
    b.add_symlink(root, "up", "pkg/../main.py", 5_000_000_000)
        .unwrap();
    let etc = b.add_mount("/", 6_000_000_000).unwrap();
    b.add_file(etc, "motd", 7_000_000_000, 5, [3; 32], b"hello")
        .unwrap();
    let layout = b.finish(Limits::format_max(SEGMENT_LEN)).unwrap();
    let content = layout
        .content_bytes(|s: &&[u8], out: &mut [u8]| -> Result<(), ()> {
            out.copy_from_slice(s);
            Ok(())
        })
        .unwrap();
    (layout.metadata, content)
}

fn packed_module((img, content): &(Vec<u8>, Vec<u8>)) -> Vec<u8> {
    packed_module_format(img, content, SECTION_FORMAT)
}

fn packed_module_format(img: &[u8], content: &[u8], format: u32) -> Vec<u8> {
    let mut m = Module::new();
    let mut mem = MemorySection::new();
    mem.memory(MemoryType {
        minimum: 4,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    m.section(&mem);
    let mut data = DataSection::new();
    // Two segments with a gap of zeros in between, like a snapshot that skipped a zero run.
    let cut = 100;
    data.active(
        0,
        &ConstExpr::i32_const(ADDR as i32),
        img[..cut].iter().copied(),
    );
    let skip = img[cut..].iter().take_while(|b| **b == 0).count();
    data.active(
        0,
        &ConstExpr::i32_const((ADDR as usize + cut + skip) as i32),
        img[cut + skip..].iter().copied(),
    );
    let segments = content.chunks(SEGMENT_LEN as usize).count() as u32;
    for chunk in content.chunks(SEGMENT_LEN as usize) {
        data.passive(chunk.iter().copied());
    }
    m.section(&data);
    let info = LayerInfo {
        format,
        tool: "wasivfs test".into(),
        vfs_abi: 2,
        vfs_memory: 0,
        vfs_memory_pages: 4,
        memory: MemoryMode::Single,
        vfs_base: 0,
        image_addr: ADDR,
        image_len: img.len() as u32,
        content: ContentInfo {
            first_segment: 2,
            segments,
            segment_len: SEGMENT_LEN,
            len: content.len() as u64,
        },
        input: InputInfo {
            sha256: "00".repeat(32),
            size: 1,
        },
        mounts: vec![
            MountInfo {
                guest: "/src".into(),
                ..MountInfo::default()
            },
            MountInfo {
                guest: "/".into(),
                ..MountInfo::default()
            },
        ],
        files: 3,
        dirs: 3,
        symlinks: 3,
        file_bytes: 17,
        stored_bytes: 17,
        trampolines: vec!["fd_read".into()],
        stubs: vec![],
        program: Default::default(),
    };
    let payload = info.to_json();
    m.section(&CustomSection {
        name: "wasivfs".into(),
        data: payload.as_slice().into(),
    });
    m.finish()
}

#[test]
fn lists_cats_and_resolves() {
    let module = packed_module(&image());
    let p = Packed::read(&module).unwrap();
    assert_eq!(p.layers().len(), 1);
    assert_eq!(p.cat("/src/main.py").unwrap(), b"print('hi')\n");
    assert_eq!(p.cat("/src/link.py").unwrap(), b"print('hi')\n");
    assert_eq!(p.cat("/src/up").unwrap(), b"print('hi')\n");
    assert_eq!(p.cat("/motd").unwrap(), b"hello");
    assert_eq!(p.cat("/src/pkg/__init__.py").unwrap(), b"");
    assert!(matches!(
        p.cat("/src/pkg"),
        Err(InspectError::IsADirectory(_))
    ));
    assert!(matches!(p.cat("/src/nope"), Err(InspectError::NotFound(_))));
    assert!(matches!(p.cat("/src/loop"), Err(InspectError::Loop(_))));
    // `..` above the mount root is refused, as the packed program gets `EPERM` for it.
    assert!(matches!(
        p.cat("/src/../../main.py"),
        Err(InspectError::Escapes(_))
    ));
    assert_eq!(p.cat("/src/pkg/../main.py").unwrap(), b"print('hi')\n");
    assert!(matches!(
        p.cat("/src/main.py/x"),
        Err(InspectError::NotADirectory(_))
    ));

    let top = render_list(&p.list(None, false).unwrap(), false);
    assert_eq!(top, "/src/\n/\n");
    let all = render_list(&p.list(Some("/src"), true).unwrap(), false);
    assert_eq!(
        all,
        "/src/link.py\n/src/loop\n/src/main.py\n/src/pkg/\n/src/pkg/__init__.py\n/src/up\n"
    );
    let long = render_list(&p.list(Some("/src/link.py"), false).unwrap(), true);
    assert_eq!(
        long,
        "l            7 1970-01-01 00:00:05 /src/link.py -> main.py\n"
    );
    let s = p.summary(&module);
    assert_eq!(s.memories, 1);
    assert_eq!(s.layers[0].mounts.len(), 2);
}

#[test]
fn unpacks_with_links_and_times() {
    let module = packed_module(&image());
    let p = Packed::read(&module).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let n = p.unpack(dir.path()).unwrap();
    assert_eq!(n, 7);
    let main = dir.path().join("src/main.py");
    assert_eq!(std::fs::read(&main).unwrap(), b"print('hi')\n");
    let mt = std::fs::metadata(&main).unwrap().modified().unwrap();
    assert_eq!(
        mt.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
        3
    );
    assert_eq!(
        std::fs::read_link(dir.path().join("src/link.py")).unwrap(),
        std::path::Path::new("main.py")
    );
    assert_eq!(std::fs::read(dir.path().join("motd")).unwrap(), b"hello");
    let pkg_mt = std::fs::metadata(dir.path().join("src/pkg"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        pkg_mt
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        2
    );
}

#[test]
fn refuses_unpacked_and_corrupt_modules() {
    let plain = Module::new().finish();
    assert!(matches!(Packed::read(&plain), Err(InspectError::NotPacked)));
    let (mut img, content) = image();
    img[0] = b'X';
    let module = packed_module(&(img, content));
    let err = Packed::read(&module).err().unwrap();
    assert!(err.to_string().contains("corrupt embedded image"), "{err}");

    // Contents cut short: the section promises more segments than the module has.
    let (img, content) = image();
    let module = packed_module(&(img.clone(), content[..content.len() - 1].to_vec()));
    let err = Packed::read(&module).err().unwrap();
    assert!(err.to_string().contains("pack layer 0"), "{err}");

    // A module from the first image format (contents inside the VFS memory) says so.
    let module = packed_module_format(&img, &content, 1);
    let err = Packed::read(&module).err().unwrap();
    assert!(err.to_string().contains("older wasivfs (format 1"), "{err}");
}
