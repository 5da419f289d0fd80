//! The writable tree (`--tmpfs`, `--writable`): its descriptor calls (`fd.rs`) and path calls
//! (`paths.rs`), answering as wasmtime-wasi does for a writable host directory. The tree itself
//! lives in `crate::memfs`.

pub(crate) mod fd;
pub(crate) mod paths;
