//! Packing a component built from a preview 1 module: the main core module (the one importing
//! `wasi_snapshot_preview1`) goes through the core-module pipeline and is put back into the
//! component in place of the original; every other section is copied unchanged.

use std::sync::Arc;
use std::time::Instant;

use wasivfs_trampoline_gen::{ComponentKind, MergeError};

use crate::info::{self, ContentInfo, InputInfo, LayerInfo, MemoryMode};
use crate::write::Counting;
use crate::{
    pack_module_into, stage_done, PackError, PackOptions, PackReport, Progress, Result, Stage,
};

/// Packs the component `bytes` (read from `opts.input`, whose read stage started at `started`)
/// and writes it to `out`. The packed main module is assembled in memory (a component is not
/// streamed yet), then the component around it is written.
///
/// The VFS always gets a memory of its own inside the main module, whatever `opts.memory`: the
/// adapter and the shims `wit-component` generates grow the main module's memory with
/// `memory.grow` in their own code, which the packer does not rewrite, so a VFS region at the
/// top of that memory would be overwritten (see `docs/design.md`).
pub(crate) fn pack<W: std::io::Write>(
    opts: &PackOptions,
    bytes: &[u8],
    progress: Arc<dyn Progress>,
    started: Instant,
    out: &mut Counting<W>,
) -> Result<PackReport> {
    let write = |out: &mut Counting<W>, bytes: &[u8]| {
        std::io::Write::write_all(out, bytes).map_err(|e| PackError::io(&opts.output, e))
    };
    let module_err = |source| PackError::Module {
        path: opts.input.clone(),
        source,
    };
    // The core module the VFS goes into, and which VFS: the one with the WASI 0.2 front-end
    // for a native component (and the other modules whose own file calls it does not see).
    let mut bypass = Vec::new();
    let (main, vfs) = match wasivfs_trampoline_gen::classify_component(bytes).map_err(module_err)? {
        ComponentKind::Preview1 { main } => (main, crate::VFS_WASM),
        ComponentKind::NativeFilesystem { main, bypassing } => {
            native_supports(opts, &bytes[main.clone()])?;
            bypass = bypassing;
            (main, crate::VFS_P2_WASM)
        }
        ComponentKind::NoFilesystem => {
            return write_unchanged(opts, bytes, &*progress, started, out)
        }
    };
    let opts = PackOptions {
        memory: MemoryMode::Multi,
        ..opts.clone()
    };
    let mut core = Counting::new(Vec::new());
    let (mut report, _) = pack_module_into(
        &opts,
        vfs,
        bytes[main.clone()].to_vec(),
        true,
        progress,
        started,
        &mut core,
    )?;
    let packed = wasivfs_trampoline_gen::replace_module(bytes, &main, &core.into_inner())
        .map_err(module_err)?;
    validate(&packed).map_err(|e| module_err(MergeError::InvalidOutput(e)))?;
    write(out, &packed)?;
    report.output_size = packed.len() as u64;
    for i in bypass {
        report.warnings.push(format!(
            "core module {i} of the component imports `wasi:filesystem` itself (in a dynamically linked program, such as the WIT bindings componentize-py generates); the VFS is in its C library, so that module's own direct file calls see only the host's directories"
        ));
    }
    Ok(report)
}

/// A component that reaches no file system: written unchanged, with one warning saying so
/// (baked arguments and variables are refused: there is no VFS to carry them).
fn write_unchanged<W: std::io::Write>(
    opts: &PackOptions,
    bytes: &[u8],
    progress: &dyn Progress,
    started: Instant,
    out: &mut Counting<W>,
) -> Result<PackReport> {
    if !opts.program.is_empty() {
        return Err(PackError::Options {
            what: "baked arguments and variables".into(),
            reason: "the component imports no file system (neither `wasi:filesystem` nor WASI preview 1), so there is no VFS to carry them".into(),
        });
    }
    let timings = vec![stage_done(progress, Stage::Read, started)];
    let report = PackReport {
        info: unchanged_info(bytes),
        output_size: bytes.len() as u64,
        walk: Default::default(),
        timings,
        warnings: vec![
            "the component imports no file system (neither `wasi:filesystem` nor WASI preview 1): nothing to intercept, so it is written unchanged, without the directories"
                .to_string(),
        ],
    };
    std::io::Write::write_all(out, bytes).map_err(|e| PackError::io(&opts.output, e))?;
    Ok(report)
}

/// How many times a native component can be packed: each layer's front-end tags its handles
/// with the layer's number, in [`wasivfs_abi::P2_MAX_LAYERS`] values.
fn native_supports(opts: &PackOptions, main: &[u8]) -> Result<()> {
    let packed = wasivfs_trampoline_gen::check_app(main).map_or(0, |i| i.packed_layers);
    if packed >= wasivfs_abi::P2_MAX_LAYERS as usize {
        return Err(PackError::Module {
            path: opts.input.clone(),
            source: MergeError::Unsupported(format!(
                "a native WASI 0.2 component can be packed at most {} times, and this one has {packed} layers",
                wasivfs_abi::P2_MAX_LAYERS
            )),
        });
    }
    Ok(())
}

/// The report's description of a component written unchanged: no layer, nothing embedded.
fn unchanged_info(bytes: &[u8]) -> LayerInfo {
    LayerInfo {
        format: info::SECTION_FORMAT,
        tool: crate::TOOL.to_string(),
        vfs_abi: info::VFS_ABI,
        vfs_memory: 0,
        vfs_memory_pages: 0,
        memory: MemoryMode::Multi,
        vfs_base: 0,
        image_addr: 0,
        image_len: 0,
        content: ContentInfo::default(),
        input: InputInfo {
            sha256: info::sha256_hex(bytes),
            size: bytes.len() as u64,
        },
        mounts: Vec::new(),
        files: 0,
        dirs: 0,
        symlinks: 0,
        file_bytes: 0,
        stored_bytes: 0,
        trampolines: Vec::new(),
        stubs: Vec::new(),
        program: Default::default(),
    }
}

/// Validates a whole component (its core modules included) with every feature wasmparser knows:
/// the adapter and the shims may use more than a plain module does.
pub(crate) fn validate(bytes: &[u8]) -> std::result::Result<(), String> {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(bytes)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
