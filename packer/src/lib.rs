//! The wasivfs pack pipeline.
//!
//! [`pack`] walks the mapped host directories ([`walk`]), lays the tree out as an image
//! (`wasivfs-image`), pre-initializes the VFS module with it ([`snapshot`]), merges the VFS into the
//! application (`wasivfs-trampoline-gen`) and writes the result atomically ([`write`]).

#![deny(missing_docs)]

mod component;
pub mod content;
mod dedup;
pub mod error;
pub mod exclude;
pub mod info;
mod mapped;
mod program;
pub mod progress;
mod single;
pub mod snapshot;
mod validated;
pub mod walk;
pub mod writable;
pub mod write;

pub use error::{PackError, Result};
pub use exclude::ExcludeRules;
pub use info::{ContentInfo, InputInfo, LayerInfo, MemoryMode, MountInfo};
pub use progress::{Event, NoProgress, Progress, Stage};
pub use walk::{Mapping, WalkCounts};
pub use wasivfs_image::config::{EnvInherit, HostDirs, ProgramConfig};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The VFS module (`vfs-guest` compiled for `wasm32-unknown-unknown`) embedded at build time,
/// without its WASI 0.2 front-end: for core modules and components built from preview 1 modules.
pub const VFS_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vfs.wasm"));

/// The VFS module with its WASI 0.2 front-end (`vfs-guest/src/p2/`): for native WASI 0.2
/// components.
pub const VFS_P2_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vfs-p2.wasm"));

/// The name and version written into the `wasivfs` custom section.
pub const TOOL: &str = concat!("wasivfs ", env!("CARGO_PKG_VERSION"));

/// Pages kept free in the VFS memory for its own heap at run time.
const VFS_HEAP_RESERVE_PAGES: u64 = 16;
const PAGE: u64 = 65536;

/// Default bytes per passive content segment. Segment lengths are 32-bit; the segments of a
/// module all sit in its data section, whose size is 32-bit too.
pub const DEFAULT_SEGMENT_LEN: u32 = 256 << 20;

/// Room kept in the data section for the VFS's own segments and segment headers.
const DATA_SECTION_RESERVE: u64 = 16 << 20;

/// Bytes a writable mount (`--tmpfs`, `--writable`) may hold in memory unless `--tmpfs-size`
/// says otherwise: 64 MiB.
pub const DEFAULT_TMPFS_SIZE: u64 = 64 << 20;

/// Outputs larger than this are refused by V8 (Node, Deno, Chrome), SpiderMonkey and
/// JavaScriptCore: `pack` warns.
pub const BROWSER_MODULE_LIMIT: u64 = 1 << 30;

/// The `--memory` mode `pack` uses unless told otherwise (see `docs/design.md`).
pub const DEFAULT_MEMORY_MODE: MemoryMode = MemoryMode::Single;

/// What to pack. A plain struct: fill the fields (or start from `Default`).
#[derive(Clone, Debug)]
pub struct PackOptions {
    /// The module to pack.
    pub input: PathBuf,
    /// Where to write the packed module.
    pub output: PathBuf,
    /// The directories to embed, in order.
    pub mappings: Vec<Mapping>,
    /// `SOURCE_DATE_EPOCH` (seconds): later modification times are clamped to it.
    pub source_date_epoch: Option<u64>,
    /// Every stored modification time is set to this (seconds since the epoch); wins over
    /// `source_date_epoch`.
    pub mtime: Option<u64>,
    /// Store the content symlinks point to (file or directory) instead of the links.
    pub follow_symlinks: bool,
    /// Entries to leave out, matched relative to each mapped directory.
    pub excludes: ExcludeRules,
    /// Bytes per passive content segment; `None` is [`DEFAULT_SEGMENT_LEN`]. Smaller values only
    /// make sense for tests (they make reads cross segment boundaries).
    pub segment_len: Option<u32>,
    /// Whether the VFS gets a memory of its own ([`MemoryMode::Multi`]) or a region of the
    /// application's memory, leaving the output with one memory ([`MemoryMode::Single`]).
    pub memory: MemoryMode,
    /// Empty writable in-memory directories (`--tmpfs`), by normalized guest path; they become
    /// mounts after the mappings, in this order.
    pub tmpfs: Vec<String>,
    /// Guest paths of mappings made writable, copy-on-write in memory (`--writable`).
    pub writable: Vec<String>,
    /// Byte limits of writable mounts (`--tmpfs-size`): `(None, n)` sets the default for every
    /// writable mount, `(Some(guest), n)` the limit of one; the last one given wins. Without any,
    /// [`DEFAULT_TMPFS_SIZE`].
    pub tmpfs_sizes: Vec<(Option<String>, u64)>,
    /// What the program always gets besides files: arguments after `argv[0]`, `argv[0]`,
    /// variables and the runtime-variable and host-directory policies.
    pub program: ProgramConfig,
    /// A compilation cache directory (`wasivfs_module_cache::ModuleCache`) where the VFS,
    /// compiled for the pack-time snapshot, is kept between packs, and where the hashes of the
    /// input modules found valid are remembered (so that an input is validated once; see
    /// `validated.rs`). `None`: the VFS is compiled and the input validated every time. The
    /// output does not depend on it.
    pub compile_cache: Option<PathBuf>,
}

impl Default for PackOptions {
    /// No input, output or mappings; [`DEFAULT_MEMORY_MODE`]; everything else off.
    fn default() -> Self {
        PackOptions {
            input: PathBuf::new(),
            output: PathBuf::new(),
            mappings: Vec::new(),
            source_date_epoch: None,
            mtime: None,
            follow_symlinks: false,
            excludes: ExcludeRules::default(),
            segment_len: None,
            memory: DEFAULT_MEMORY_MODE,
            tmpfs: Vec::new(),
            writable: Vec::new(),
            tmpfs_sizes: Vec::new(),
            program: ProgramConfig::default(),
            compile_cache: None,
        }
    }
}

impl PackOptions {
    /// Reads `SOURCE_DATE_EPOCH` from the environment: `Ok(None)` if unset, an error if it is not a
    /// number of seconds.
    pub fn source_date_epoch_from_env() -> Result<Option<u64>> {
        match std::env::var("SOURCE_DATE_EPOCH") {
            Err(_) => Ok(None),
            Ok(v) if v.trim().is_empty() => Ok(None),
            Ok(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| PackError::Options {
                    what: "SOURCE_DATE_EPOCH".into(),
                    reason: format!("{v:?} is not a number of seconds since 1970"),
                }),
        }
    }
}

/// What a pack did.
#[derive(Clone, Debug)]
pub struct PackReport {
    /// The `wasivfs` custom section written.
    pub info: LayerInfo,
    /// Size of the written module.
    pub output_size: u64,
    /// What the walk saw (including how many entries were excluded).
    pub walk: WalkCounts,
    /// How long each stage took, in order.
    pub timings: Vec<(Stage, Duration)>,
    /// Things the user should know, one line each (e.g. an output too large for browsers).
    pub warnings: Vec<String>,
}

/// Packs `opts.mappings` into `opts.input` and writes `opts.output`.
///
/// On error nothing is written and an existing output is left untouched.
pub fn pack(opts: &PackOptions) -> Result<PackReport> {
    pack_with(opts, Arc::new(NoProgress))
}

/// [`pack`], reporting progress to `progress`.
///
/// The module is written section by section into a temporary file beside the output, the file
/// contents copied from the host files as they come; the written file is then validated (read
/// through a memory map, see [`write::validate_written`]) and renamed over the output. Nothing
/// the size of the contents is ever held in memory.
pub fn pack_with(opts: &PackOptions, progress: Arc<dyn Progress>) -> Result<PackReport> {
    let pending = write::Output::create(&opts.output)?;
    let (mut report, copied) = {
        let mut out = pending.writer();
        let packed = pack_into(opts, progress.clone(), &mut out)?;
        out.finish().map_err(|e| PackError::io(&opts.output, e))?;
        packed
    };
    let started = stage_start(&*progress, Stage::Write);
    let memo = opts
        .compile_cache
        .as_deref()
        .map(wasivfs_module_cache::ModuleCache::new);
    pending.validate(&opts.input, copied.as_ref(), memo.as_ref())?;
    pending.commit()?;
    progress.event(Event::Written {
        done: report.output_size,
        total: report.output_size,
    });
    report
        .timings
        .push(stage_done(&*progress, Stage::Write, started));
    Ok(report)
}

/// Runs the pipeline and returns the packed module instead of writing it.
pub fn pack_to_bytes(opts: &PackOptions) -> Result<(Vec<u8>, LayerInfo)> {
    pack_to_bytes_with(opts, Arc::new(NoProgress)).map(|(bytes, report)| (bytes, report.info))
}

fn stage_start(progress: &dyn Progress, stage: Stage) -> Instant {
    progress.event(Event::Start(stage));
    Instant::now()
}

fn stage_done(progress: &dyn Progress, stage: Stage, started: Instant) -> (Stage, Duration) {
    let elapsed = started.elapsed();
    progress.event(Event::Done(stage, elapsed));
    (stage, elapsed)
}

/// [`pack_to_bytes`], reporting progress; the report's `output_size` is the returned length and
/// its timings stop before the write. The same bytes as [`pack_with`] writes, validated the same
/// way, but held in memory: for tests and small trees.
pub fn pack_to_bytes_with(
    opts: &PackOptions,
    progress: Arc<dyn Progress>,
) -> Result<(Vec<u8>, PackReport)> {
    let mut out = write::Counting::new(Vec::new());
    let (report, _) = pack_into(opts, progress, &mut out)?;
    let out = out.into_inner();
    write::validate_written(&out, &opts.input)?;
    Ok((out, report))
}

/// The pipeline, writing the module to `out` as it goes (not validated: the caller validates
/// what it wrote), and, for a core module, which of its bodies are the input's. A failing write
/// is an error naming the output.
fn pack_into<W: std::io::Write>(
    opts: &PackOptions,
    progress: Arc<dyn Progress>,
    out: &mut write::Counting<W>,
) -> Result<(PackReport, Option<validated::Copied>)> {
    let input = &opts.input;
    let started = stage_start(&*progress, Stage::Read);
    let app = std::fs::read(input).map_err(|e| PackError::io(input, e))?;
    if wasivfs_abi::BinaryKind::of(&app) == wasivfs_abi::BinaryKind::Component {
        return Ok((component::pack(opts, &app, progress, started, out)?, None));
    }
    let (report, copied) = pack_module_into(opts, VFS_WASM, app, false, progress, started, out)?;
    Ok((report, Some(copied)))
}

/// Packs the core module `app` (read from `opts.input`, whose read stage started at `started`;
/// `in_component` if it is a core module of a component) and writes the result to `out`; also
/// says which bodies of the result are the input's.
fn pack_module_into<W: std::io::Write>(
    opts: &PackOptions,
    vfs_wasm: &'static [u8],
    app: Vec<u8>,
    in_component: bool,
    progress: Arc<dyn Progress>,
    started: Instant,
    out: &mut write::Counting<W>,
) -> Result<(PackReport, validated::Copied)> {
    let input = &opts.input;
    let module_err = |source| PackError::Module {
        path: input.clone(),
        source,
    };
    // What failed while the module was written: the output (a full disk), a host file (its own
    // error, naming it), or the merge.
    let emit_err = |e| match e {
        wasivfs_trampoline_gen::MergeError::Write(e) => PackError::io(&opts.output, e),
        wasivfs_trampoline_gen::MergeError::Content(e) => match e.downcast::<PackError>() {
            Ok(e) => *e,
            Err(e) => module_err(wasivfs_trampoline_gen::MergeError::Content(e)),
        },
        e => module_err(e),
    };
    let mut timings = Vec::new();
    // The input is hashed (for the layer's record) on another core while the pipeline goes on;
    // it is needed only once the module is written, and long done by then.
    let app = Arc::new(app);
    let hashing = {
        let app = Arc::clone(&app);
        std::thread::spawn(move || info::sha256_hex(&app))
    };
    let input_info = |hashing: std::thread::JoinHandle<String>, size: u64| InputInfo {
        sha256: hashing
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        size,
    };
    let input_size = app.len() as u64;
    // The VFS is instrumented and compiled (its memory size bounds the image) on another core
    // while this one checks the input and walks the tree.
    let (front, prepared) = std::thread::scope(|s| {
        let other = s.spawn(|| snapshot::prepare(vfs_wasm, input, opts.compile_cache.as_deref()));
        let front = read_and_walk(opts, &*progress, &app, in_component, &mut timings, started);
        let other = other
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (front, other)
    });
    let (scanned, walked, writable) = front?;
    let mut prepared = prepared?;
    let cache_warnings = std::mem::take(&mut prepared.cache_warnings);
    let walk_counts = walked.counts;

    let started = stage_start(&*progress, Stage::Layout);
    let limits =
        wasivfs_image::builder::Limits::format_max(opts.segment_len.unwrap_or(DEFAULT_SEGMENT_LEN))
            .within(
                image_limit(prepared.initial_pages()),
                (u32::MAX as u64).saturating_sub(app.len() as u64 + DATA_SECTION_RESERVE),
            );
    let layout = walked
        .builder
        .finish(limits)
        .map_err(|source| PackError::Layout {
            what: mapping_list(&opts.mappings),
            source,
        })?;
    let stats = layout.stats;
    timings.push(stage_done(&*progress, Stage::Layout, started));

    let started = stage_start(&*progress, Stage::Snapshot);
    let segment_lens = layout.segment_lens();
    let layer = scanned.info().packed_layers;
    let snap = prepared.snapshot(layout.metadata.len(), layer, input)?;
    timings.push(stage_done(&*progress, Stage::Snapshot, started));
    let started = stage_start(&*progress, Stage::Merge);
    // The image joins the VFS here, in the pages the snapshot reserved for it.
    let image = (!layout.metadata.is_empty()).then_some(wasivfs_trampoline_gen::PlacedImage {
        addr: snap.image_addr,
        bytes: &layout.metadata,
    });
    let vfs = wasivfs_trampoline_gen::prepare_vfs(&snap.wasm, image).map_err(module_err)?;
    // The snapshot's module and the image are no longer needed: only where the image is.
    let (image_addr, image_len) = (snap.image_addr, snap.image_len);
    drop(snap);
    drop(layout.metadata);
    let merger =
        wasivfs_trampoline_gen::Merger::from_scanned(scanned, &vfs, segment_lens.len() as u32)
            .map_err(module_err)?;
    let plan = merger.plan().clone();
    let app_bodies = merger.app_bodies();
    let mut rewritten = merger.rewritten_positions();
    // The contents are written into the output straight from the host files; a read error
    // comes back from the merger as itself, naming the file.
    let mut reader = content::ContentReader::new(layout.blobs, walked.roots, progress.clone());
    let mut fill = |buf: &mut [u8]| {
        reader
            .read(buf)
            .map_err(|e| Box::new(e) as wasivfs_trampoline_gen::FillError)
    };
    let content = (!segment_lens.is_empty()).then_some(wasivfs_trampoline_gen::Content {
        segment_lens,
        fill: &mut fill,
    });
    // Where this layer's VFS memory ends up: its own memory, or a region of memory 0 once
    // every memory is folded into it (earlier layers' records are rewritten by that pass).
    let (vfs_memory, vfs_base, input_info) = match opts.memory {
        MemoryMode::Multi => {
            merger.emit_to(content, out).map_err(emit_err)?;
            (plan.vfs_memory, 0, input_info(hashing, input_size))
        }
        MemoryMode::Single => {
            // The merged module without its contents (about the size of the input), lowered
            // while the contents are appended: the merged module is never held whole.
            let merged = merger.emit_without_content().map_err(module_err)?;
            let memory0_bodies = merger.memory0_bodies();
            drop(merger);
            // The input's last holder is the hashing thread: once it is done, the input is
            // freed before the lowering writes the output.
            let input_info = input_info(hashing, input_size);
            drop(app);
            let lowering = wasivfs_trampoline_gen::lower_memories_to(
                &merged,
                &mut single::rewrite_section,
                content,
                memory0_bodies,
                out,
            )
            .map_err(emit_err)?;
            rewritten.extend_from_slice(&lowering.rewritten_positions);
            (
                0,
                single::region_base(&lowering, plan.vfs_memory).map_err(module_err)?,
                input_info,
            )
        }
    };
    let info = LayerInfo {
        format: info::SECTION_FORMAT,
        tool: TOOL.to_string(),
        vfs_abi: info::VFS_ABI,
        vfs_memory,
        vfs_memory_pages: plan.vfs_memory_pages,
        memory: opts.memory,
        vfs_base,
        image_addr,
        image_len,
        content: ContentInfo {
            first_segment: plan.first_content_segment,
            segments: plan.content_segments,
            segment_len: layout.segment_len,
            len: layout.content_len,
        },
        input: input_info,
        mounts: writable.mount_infos(),
        files: stats.files,
        dirs: stats.dirs,
        symlinks: stats.symlinks,
        file_bytes: stats.file_bytes,
        stored_bytes: stats.stored_bytes,
        trampolines: plan.trampolines.clone(),
        stubs: plan.stubs.clone(),
        program: opts.program.clone(),
    };
    wasivfs_trampoline_gen::append_layer_section(out, &info.to_json()).map_err(emit_err)?;
    timings.push(stage_done(&*progress, Stage::Merge, started));
    let output_size = out.count();
    let mut warnings = cache_warnings;
    if output_size > BROWSER_MODULE_LIMIT {
        warnings.push(format!(
            "the output is {} MiB: V8 (Node, Deno, Chrome), SpiderMonkey and JavaScriptCore refuse modules over 1 GiB",
            output_size >> 20
        ));
    }
    rewritten.sort_unstable();
    rewritten.dedup();
    let copied = validated::Copied {
        app_bodies,
        rewritten,
        input_sha256: info.input.sha256.clone(),
    };
    let report = PackReport {
        info,
        output_size,
        walk: walk_counts,
        timings,
        warnings,
    };
    Ok((report, copied))
}

/// The input checked, the tree walked and the writable mounts planned (the stages `read`, its
/// timing started at `started`, and `walk`).
fn read_and_walk<'a>(
    opts: &PackOptions,
    progress: &dyn Progress,
    app: &'a [u8],
    in_component: bool,
    timings: &mut Vec<(Stage, Duration)>,
    started: Instant,
) -> Result<(
    wasivfs_trampoline_gen::ScannedApp<'a>,
    walk::Walked,
    writable::Plan,
)> {
    let module_err = |source| PackError::Module {
        path: opts.input.clone(),
        source,
    };
    let scanned = wasivfs_trampoline_gen::scan_app(app).map_err(module_err)?;
    // A module on its own that imports its memory runs nowhere a WASI runtime could give it one;
    // inside a component (dynamically linked) the memory is the one its modules share.
    if let Some((module, name)) = scanned
        .info()
        .memories
        .iter()
        .find_map(|m| m.imported.clone())
    {
        if !in_component {
            let e = wasivfs_trampoline_gen::MergeError::ImportedMemory { module, name };
            return Err(module_err(e));
        }
    }
    let earlier: Vec<ProgramConfig> = info::read_layers(app)
        .into_iter()
        .filter_map(|l| l.ok().map(|l| l.program))
        .collect();
    program::check_layers(&earlier, opts)?;
    timings.push(stage_done(progress, Stage::Read, started));
    opts.program.validate().map_err(|e| PackError::Options {
        what: "baked arguments and variables".into(),
        reason: e.to_string(),
    })?;
    let writable = writable::plan(opts)?;
    let started = stage_start(progress, Stage::Walk);
    let walk_opts = walk::WalkOptions {
        mtime_clamp_ns: opts
            .source_date_epoch
            .map(|s| s.saturating_mul(1_000_000_000)),
        mtime_fixed_ns: opts.mtime.map(|s| s.saturating_mul(1_000_000_000)),
        follow_symlinks: opts.follow_symlinks,
        excludes: opts.excludes.clone(),
    };
    let mut walked = walk::walk_with(&opts.mappings, &walk_opts, &mut |c| {
        progress.event(Event::Walked {
            files: c.files,
            bytes: c.bytes,
        })
    })?;
    writable::apply(&mut walked.builder, &writable)?;
    walked.builder.set_config(&opts.program);
    timings.push(stage_done(progress, Stage::Walk, started));
    Ok((scanned, walked, writable))
}

fn mapping_list(mappings: &[Mapping]) -> String {
    let list: Vec<String> = mappings
        .iter()
        .map(|m| format!("{}::{}", m.guest, m.host.display()))
        .collect();
    format!("--mapdir {}", list.join(" "))
}

/// The largest image (metadata) that fits in the VFS memory next to the VFS's own `pages` and
/// its heap.
fn image_limit(pages: u64) -> u64 {
    let used = (pages + VFS_HEAP_RESERVE_PAGES) * PAGE;
    (1u64 << 32).saturating_sub(used)
}

/// Normalizes a guest path given on the command line: must be absolute; `.` components and
/// repeated or trailing slashes are dropped; `..` is refused.
pub fn normalize_guest_path(guest: &str) -> Result<String> {
    let bad = |reason: &str| PackError::Options {
        what: format!("guest path {guest:?}"),
        reason: reason.to_string(),
    };
    if !guest.starts_with('/') {
        return Err(bad("must be absolute (like /src)"));
    }
    let mut parts = Vec::new();
    for c in guest.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(bad("must not contain `..`")),
            c if c.contains('\0') => return Err(bad("must not contain NUL")),
            c => parts.push(c),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

#[cfg(test)]
mod tests;
