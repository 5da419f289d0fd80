//! The compilation cache of `wasivfs run`: compiled modules kept on disk, uncompressed, and
//! loaded with a memory map, so that a second run of a 170 MB packed module neither compiles,
//! decompresses nor copies it.
//!
//! # Where it lives
//!
//! `modules/` in wasivfs's cache directory (see [`crate::location`]: `$WASIVFS_CACHE`, else
//! `wasivfs` under the user's cache directory). Deleting the directory clears it; `wasivfs run --no-cache` neither reads nor writes it. It is kept under
//! [`DEFAULT_MAX_BYTES`], least recently used entries first.
//!
//! # Layout (`v1/` under the cache directory)
//!
//! - `<engine>-<module>.cwasm`: what `Engine::precompile_module` produced, byte for byte.
//!   `<engine>` is 16 hex digits of blake3 over wasmtime's `precompile_compatibility_hash`
//!   (wasmtime version, target, compiler flags, enabled features), `<module>` the blake3 of the
//!   module's bytes.
//! - `<engine>-<module>.sum`: the artifact's length and blake3, and the `fstat` stamp (device,
//!   inode, size, mtime, ctime) the artifact had when that checksum was last confirmed.
//! - `files/<device>-<inode>`: which module hash a module file had at a given stamp, so that an
//!   unchanged module file is not read at all.
//!
//! Both records end with a checksum of their own text. See `docs/design.md` ("The run cache")
//! for why trusting stamps is safe and what is and is not detected.

mod artifact;
mod evict;
mod stamp;

use anyhow::{anyhow, Context, Result};
use artifact::Artifact;
use stamp::{hash_bytes, hash_file, now_ns, settled, Record, Stamp};
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

/// Environment variable that, set to `1`, makes [`load_for_run`] print one line to stderr saying
/// how the module was obtained (`cache hit`, `cache verified`, `compiled`).
pub const CACHE_LOG_ENV: &str = "WASIVFS_CACHE_LOG";
/// Default bound on the total size of cached artifacts.
pub const DEFAULT_MAX_BYTES: u64 = 4 << 30;

/// Version of the on-disk layout; a change starts a new directory.
const LAYOUT: &str = "v1";
const ARTIFACT_RECORD: &str = "wasivfs-artifact";
const FILE_RECORD: &str = "wasivfs-module-file";
const VALID_RECORD: &str = "wasivfs-valid-module";
const RECORD_VERSION: u32 = 1;

/// A directory of compiled modules. See the module documentation.
#[derive(Clone, Debug)]
pub struct ModuleCache {
    dir: PathBuf,
    max_bytes: u64,
}

/// How [`ModuleCache::load`] obtained the module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The cached artifact was mapped as is: its stamp shows it unchanged since its checksum was
    /// confirmed.
    Hit,
    /// The cached artifact was checksummed in full before being mapped (it was written moments
    /// ago, or its stamp changed, e.g. after a copy of the cache).
    Verified,
    /// The module was compiled.
    Compiled {
        /// Why the cache could not serve it.
        reason: Miss,
        /// Why the new artifact could not be stored, if it could not (the run goes on).
        store_error: Option<String>,
    },
}

/// Why the cache could not serve a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Miss {
    /// No entry for this module and engine.
    Absent,
    /// The entry was damaged (truncated, checksum mismatch, damaged record); it is replaced.
    /// The text names the file and the damage.
    Damaged(String),
    /// wasmtime refused the entry (another wasmtime version or configuration); it is replaced.
    Stale(String),
}

impl std::fmt::Display for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lookup::Hit => write!(f, "cache hit"),
            Lookup::Verified => write!(f, "cache verified (checksummed in full)"),
            Lookup::Compiled { reason, .. } => match reason {
                Miss::Absent => write!(f, "compiled (not in the cache)"),
                Miss::Damaged(why) => write!(f, "compiled (damaged cache entry: {why})"),
                Miss::Stale(why) => write!(f, "compiled (stale cache entry: {why})"),
            },
        }
    }
}

impl Lookup {
    /// What the user should hear about this lookup, one line each (the program still runs):
    /// a damaged entry that was replaced, an entry that could not be stored.
    pub fn troubles(&self) -> Vec<String> {
        let Lookup::Compiled {
            reason,
            store_error,
        } = self
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Miss::Damaged(why) = reason {
            out.push(format!(
                "{why}: damaged compilation cache entry, recompiled"
            ));
        }
        if let Some(e) = store_error {
            out.push(format!("{}: cannot store the compiled module", one_line(e)));
        }
        out
    }
}

impl ModuleCache {
    /// A cache in `dir` (created on first store) with the default size bound.
    pub fn new(dir: impl Into<PathBuf>) -> ModuleCache {
        ModuleCache {
            dir: dir.into(),
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }

    /// `modules/` in wasivfs's cache directory ([`crate::location::cache_root`]); an error if
    /// there is none (no home directory and no `WASIVFS_CACHE`).
    pub fn from_env() -> Result<ModuleCache> {
        crate::location::cache_subdir("modules")
            .map(ModuleCache::new)
            .ok_or_else(|| {
                anyhow!(
                    "no user cache directory (set HOME or {})",
                    crate::location::CACHE_ENV
                )
            })
    }

    /// Sets the bound on the total size of cached artifacts (checked after each store).
    pub fn with_max_bytes(mut self, max_bytes: u64) -> ModuleCache {
        self.max_bytes = max_bytes;
        self
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn layout_dir(&self) -> PathBuf {
        self.dir.join(LAYOUT)
    }

    /// Where the artifact of the module at `module` for `engine` is (or would be) stored: its
    /// `.cwasm` path. Reads the module file unless its stamp is already known.
    pub fn artifact_path(&self, engine: &Engine, module: &Path) -> Result<PathBuf> {
        let mut file = File::open(module)?;
        let hash = self.module_hash(&mut file)?;
        Ok(self.entry_paths(engine, &hash).0)
    }

    /// The module at `path`, compiled for `engine`: from the cache when it holds a sound entry,
    /// else compiled and stored. Errors are about the module itself (unreadable, not wasm, does
    /// not compile); trouble with the cache only shows in the returned [`Lookup`].
    pub fn load(&self, engine: &Engine, path: &Path) -> Result<(Module, Lookup)> {
        self.load_as(engine, path)
    }

    fn load_as<T: Artifact>(&self, engine: &Engine, path: &Path) -> Result<(T, Lookup)> {
        let mut file = File::open(path)?;
        check_magic::<T>(&mut file)?;
        let hash = self.module_hash(&mut file)?;
        let (artifact, sum) = self.entry_paths(engine, &hash);
        let reason = match open_entry(engine, &artifact, &sum) {
            Ok((compiled, lookup)) => return Ok((compiled, lookup)),
            Err(miss) => miss,
        };
        let bytes = read_all(&mut file)?;
        let compiled = Compiled::of::<T>(engine, &bytes)?;
        drop(bytes);
        self.store_compiled(engine, compiled, reason)
    }

    /// The module `bytes`, compiled for `engine`: from the cache when it holds a sound entry for
    /// these bytes, else compiled and stored. For modules that are not files (the packer's VFS);
    /// errors and [`Lookup`] as for [`ModuleCache::load`].
    pub fn load_bytes(&self, engine: &Engine, bytes: &[u8]) -> Result<(Module, Lookup)> {
        let (artifact, sum) = self.entry_paths(engine, &hash_bytes(bytes));
        match open_entry(engine, &artifact, &sum) {
            Ok(found) => Ok(found),
            Err(reason) => {
                self.store_compiled(engine, Compiled::of::<Module>(engine, bytes)?, reason)
            }
        }
    }

    /// Stores `compiled` and loads it; `reason` says why the cache could not serve it.
    fn store_compiled<T: Artifact>(
        &self,
        engine: &Engine,
        compiled: Compiled,
        reason: Miss,
    ) -> Result<(T, Lookup)> {
        let (artifact, sum) = self.entry_paths(engine, &compiled.module_hash);
        let compiled = compiled.artifact;
        let (module, store_error) = match self.store(engine, &artifact, &sum, &compiled) {
            Ok(module) => (module, None),
            Err(e) => {
                // SAFETY: the bytes come from `precompile_module` on this engine just now.
                let module = unsafe { T::from_bytes(engine, &compiled) }
                    .map_err(|e| anyhow!(e).context("cannot load the compiled module"))?;
                (module, Some(format!("{e:#}")))
            }
        };
        Ok((
            module,
            Lookup::Compiled {
                reason,
                store_error,
            },
        ))
    }

    /// Whether [`ModuleCache::remember_valid`] recorded `key` (a sound record; a missing or
    /// damaged one is `false`).
    pub fn knows_valid(&self, key: &str) -> bool {
        fs::read(self.valid_path(key))
            .ok()
            .and_then(|text| Record::decode(&text))
            .is_some_and(|r| r.is(VALID_RECORD, RECORD_VERSION) && r.get("key") == Some(key))
    }

    /// Records that the module `key` names (the packer's key: the input's hash and the
    /// validator's identity) was found valid. A hint: if it cannot be written, the next pack
    /// validates again.
    pub fn remember_valid(&self, key: &str) {
        let path = self.valid_path(key);
        let mut r = Record::new(VALID_RECORD, RECORD_VERSION);
        r.set("key", key);
        let _ = write_atomically(&path, r.encode().as_bytes());
    }

    fn valid_path(&self, key: &str) -> PathBuf {
        self.layout_dir()
            .join("valid")
            .join(blake3::hash(key.as_bytes()).to_hex().as_str())
    }

    fn entry_paths(&self, engine: &Engine, module_hash: &blake3::Hash) -> (PathBuf, PathBuf) {
        let base = format!("{}-{}", engine_key(engine), module_hash.to_hex());
        let dir = self.layout_dir();
        (
            dir.join(format!("{base}.cwasm")),
            dir.join(format!("{base}.sum")),
        )
    }

    /// The blake3 of the module file's contents: from its `files/` record when the file's stamp
    /// is the recorded one and settled, else by reading the file (and recording the result).
    fn module_hash(&self, file: &mut File) -> Result<blake3::Hash> {
        let before = now_ns();
        let stamp = Stamp::of(&file.metadata()?);
        let record_path = stamp.map(|s| {
            self.layout_dir()
                .join("files")
                .join(format!("{:016x}-{:016x}", s.dev, s.ino))
        });
        if let (Some(s), Some(p)) = (&stamp, &record_path) {
            if let Some(h) = read_file_record(p, s) {
                return Ok(h);
            }
        }
        let (hash, _) = hash_file(file)?;
        if let (Some(s), Some(p)) = (stamp, record_path) {
            let mut r = Record::new(FILE_RECORD, RECORD_VERSION);
            r.set("stamp", &s.encode())
                .set("recorded", &before.to_string())
                .set("module", hash.to_hex().as_str());
            // A hint only: if it cannot be written the next run hashes the file again.
            let _ = write_atomically(&p, r.encode().as_bytes());
        }
        Ok(hash)
    }

    /// Writes `compiled` as the entry (`artifact`, `sum`), then maps it. Errors are about the
    /// cache directory; the caller then runs the in-memory copy.
    fn store<T: Artifact>(
        &self,
        engine: &Engine,
        artifact: &Path,
        sum: &Path,
        compiled: &[u8],
    ) -> Result<T> {
        let dir = self.layout_dir();
        create_private_dir(&dir).with_context(|| format!("{}", dir.display()))?;
        let ctx = || format!("{}", artifact.display());
        // The data must be on disk before the record that vouches for it can be: otherwise a
        // crash could leave a record whose stamp matches a file of zeros.
        let file = wasivfs_atomic_write::write(artifact, compiled, DURABLE).with_context(ctx)?;
        let before = now_ns();
        let meta = file.metadata().with_context(ctx)?;
        write_artifact_record(
            sum,
            &meta,
            before,
            &hash_bytes(compiled),
            compiled.len() as u64,
        )?;
        evict::evict(&dir, self.max_bytes, artifact);
        // SAFETY: the file is the one just written from `precompile_module`'s output for this
        // engine, and cache entries are never written in place (see `open_entry`).
        unsafe { T::map(engine, file, artifact) }
            .map_err(|e| anyhow!(e).context("cannot map the stored module"))
            .with_context(ctx)
    }
}

/// A module compiled for an engine, and the hash of the module's bytes that keys its entry (the
/// bytes actually compiled: a file may have changed since it was first hashed).
struct Compiled {
    module_hash: blake3::Hash,
    artifact: Vec<u8>,
}

impl Compiled {
    fn of<T: Artifact>(engine: &Engine, bytes: &[u8]) -> Result<Compiled> {
        Ok(Compiled {
            module_hash: hash_bytes(bytes),
            artifact: T::precompile(engine, bytes).map_err(compile_error::<T>)?,
        })
    }
}

/// Loads the module at `path` for `wasivfs run`: through the user's cache ([`ModuleCache::from_env`])
/// unless `use_cache` is false, in which case it is compiled and nothing is read from or written
/// to the cache. A damaged cache entry and a cache that cannot be written each print one
/// `warning:` line on stderr; the module still runs. With [`CACHE_LOG_ENV`]`=1`, one more line
/// says how the module was obtained. Errors are about the module (unreadable, not wasm, does not
/// compile) and do not name it: the caller does.
pub fn load_for_run(engine: &Engine, path: &Path, use_cache: bool) -> Result<Module> {
    load_for_run_as(engine, path, use_cache)
}

/// [`load_for_run`] for the component at `path`.
pub fn load_component_for_run(engine: &Engine, path: &Path, use_cache: bool) -> Result<Component> {
    load_for_run_as(engine, path, use_cache)
}

fn load_for_run_as<T: Artifact>(engine: &Engine, path: &Path, use_cache: bool) -> Result<T> {
    let log = std::env::var(CACHE_LOG_ENV).is_ok_and(|v| v == "1");
    if !use_cache {
        let module = compile_file::<T>(engine, path)?;
        if log {
            eprintln!("wasivfs: compiled (--no-cache)");
        }
        return Ok(module);
    }
    let cache = match ModuleCache::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("warning: {e:#}; compiling without the cache");
            return compile_file::<T>(engine, path);
        }
    };
    let (module, lookup) = cache.load_as::<T>(engine, path)?;
    for trouble in lookup.troubles() {
        eprintln!("warning: {trouble}");
    }
    if log {
        eprintln!("wasivfs: {lookup}");
    }
    Ok(module)
}

/// Compiles the `T` at `path`, without the cache.
fn compile_file<T: Artifact>(engine: &Engine, path: &Path) -> Result<T> {
    let mut file = File::open(path)?;
    check_magic::<T>(&mut file)?;
    T::compile(engine, &read_all(&mut file)?).map_err(|e| compile_error::<T>(e))
}

/// The error of a `T` that does not compile.
fn compile_error<T: Artifact>(e: wasmtime::Error) -> anyhow::Error {
    anyhow!(e).context(format!("cannot compile the {}", T::WHAT))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The cached entry at (`artifact`, `sum`), mapped, or why it cannot be used.
///
/// Soundness of the `unsafe` mapping. `Module::deserialize_open_file` runs the file's machine
/// code, so the bytes must be exactly what `precompile_module` wrote, and must not change while
/// mapped. Wasmtime itself checks the header, its version and the engine settings (a mismatch is
/// an error, [`Miss::Stale`]), but not the bytes of the code and data. Those are vouched for by
/// the `.sum` record: its length and blake3 were computed from the bytes written, and the stamp
/// it holds is the artifact's at a moment its contents were known to match that blake3. If the
/// stamp still matches and was settled then, no write has reached the file since (every write
/// moves ctime, which no program can set back). Otherwise the whole file is read and hashed
/// before it is used. The file is mapped through the same descriptor that was checked, so a
/// rename over the path in between cannot substitute another file. Entries are never modified in
/// place: a replacement is a new file renamed over the old one, so a file mapped by a running
/// program keeps its contents.
fn open_entry<T: Artifact>(
    engine: &Engine,
    artifact: &Path,
    sum: &Path,
) -> Result<(T, Lookup), Miss> {
    let name = artifact.display();
    // An artifact that cannot be opened (missing, or a permission problem that storing the new
    // one will report) is simply not there.
    let Ok(mut file) = File::open(artifact) else {
        return Err(Miss::Absent);
    };
    let record = match fs::read(sum) {
        Ok(text) => Record::decode(&text).filter(|r| r.is(ARTIFACT_RECORD, RECORD_VERSION)),
        // Written after the artifact: a run that stopped in between, or one still writing.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Miss::Absent),
        Err(e) => return Err(Miss::Damaged(format!("{}: {e}", sum.display()))),
    };
    let Some(record) = record else {
        return Err(Miss::Damaged(format!("{}: damaged record", sum.display())));
    };
    let fields = (|| {
        let len: u64 = record.get("len")?.parse().ok()?;
        let hash = blake3::Hash::from_hex(record.get("blake3")?).ok()?;
        let stamp = Stamp::decode(record.get("stamp")?);
        let recorded: i128 = record.get("recorded")?.parse().ok()?;
        Some((len, hash, stamp, recorded))
    })();
    let Some((len, hash, recorded_stamp, recorded)) = fields else {
        return Err(Miss::Damaged(format!("{}: malformed", sum.display())));
    };
    let before = now_ns();
    let meta = file
        .metadata()
        .map_err(|e| Miss::Damaged(format!("{name}: {e}")))?;
    if meta.len() != len {
        return Err(Miss::Damaged(format!(
            "{name}: {} bytes, expected {len}",
            meta.len()
        )));
    }
    let stamp = Stamp::of(&meta);
    let trusted = stamp.is_some_and(|s| recorded_stamp == Some(s) && settled(&s, recorded));
    let lookup = if trusted {
        evict::touch(sum);
        Lookup::Hit
    } else {
        let (actual, n) =
            hash_file(&mut file).map_err(|e| Miss::Damaged(format!("{name}: {e}")))?;
        if n != len || actual != hash {
            return Err(Miss::Damaged(format!("{name}: checksum mismatch")));
        }
        // Confirmed: record the current stamp so the next run need not read the file.
        let _ = write_artifact_record(sum, &meta, before, &hash, len);
        Lookup::Verified
    };
    // SAFETY: see the function's documentation.
    match unsafe { T::map(engine, file, artifact) } {
        Ok(module) => Ok((module, lookup)),
        Err(e) => Err(Miss::Stale(one_line(&format!("{name}: {:#}", anyhow!(e))))),
    }
}

fn write_artifact_record(
    sum: &Path,
    meta: &fs::Metadata,
    recorded: i128,
    hash: &blake3::Hash,
    len: u64,
) -> Result<()> {
    let mut r = Record::new(ARTIFACT_RECORD, RECORD_VERSION);
    r.set("len", &len.to_string())
        .set("blake3", hash.to_hex().as_str())
        .set("recorded", &recorded.to_string());
    if let Some(s) = Stamp::of(meta) {
        r.set("stamp", &s.encode());
    } else {
        r.set("stamp", "none");
    }
    write_atomically(sum, r.encode().as_bytes()).with_context(|| format!("{}", sum.display()))
}

/// The module hash a `files/` record gives for a file with stamp `stamp`, if the record is
/// intact, is for that stamp, and was settled when written.
fn read_file_record(path: &Path, stamp: &Stamp) -> Option<blake3::Hash> {
    let r = Record::decode(&fs::read(path).ok()?)?;
    if !r.is(FILE_RECORD, RECORD_VERSION) || Stamp::decode(r.get("stamp")?)? != *stamp {
        return None;
    }
    let recorded: i128 = r.get("recorded")?.parse().ok()?;
    if !settled(stamp, recorded) {
        return None;
    }
    blake3::Hash::from_hex(r.get("module")?).ok()
}

/// Cache artifacts: private, and on disk before their records are written.
const DURABLE: wasivfs_atomic_write::Options = wasivfs_atomic_write::Options {
    mode: wasivfs_atomic_write::Mode::Private,
    durable: true,
};

/// Writes a record to `path` all or nothing, creating the directory (private to the user) if
/// needed. Records need no flush: one lost in a crash just means hashing again.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent directory"))?;
    create_private_dir(dir)?;
    let opts = wasivfs_atomic_write::Options {
        mode: wasivfs_atomic_write::Mode::Private,
        durable: false,
    };
    wasivfs_atomic_write::write(path, bytes, opts)
        .map(drop)
        .map_err(std::io::Error::other)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// 16 hex digits identifying what a compiled artifact depends on besides the module: the
/// wasmtime version and the engine's compilation settings, as wasmtime itself reports them.
fn engine_key(engine: &Engine) -> String {
    struct Blake3Hasher(blake3::Hasher);
    impl Hasher for Blake3Hasher {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            let h = self.0.finalize();
            let mut b = [0u8; 8];
            b.copy_from_slice(&h.as_bytes()[..8]);
            u64::from_le_bytes(b)
        }
    }
    let mut h = Blake3Hasher(blake3::Hasher::new());
    h.0.update(LAYOUT.as_bytes());
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Fails unless `file` starts with the header of a `T` (a core module or a component).
fn check_magic<T: Artifact>(file: &mut File) -> Result<()> {
    use wasivfs_abi::BinaryKind;
    let mut header = Vec::with_capacity(8);
    file.seek(SeekFrom::Start(0))?;
    Read::by_ref(file).take(8).read_to_end(&mut header)?;
    let kind = BinaryKind::of(&header);
    if kind == T::KIND {
        return Ok(());
    }
    match kind.problem() {
        Some(problem) => Err(anyhow!("{problem}")),
        None => Err(anyhow!("a core module, not a component")),
    }
}

fn read_all(file: &mut File) -> Result<Vec<u8>> {
    let len = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
    let mut bytes = Vec::with_capacity(len);
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests;
