//! Publishes where this crate's sources are (`DEP_WASIVFS_WASI_RUN_ROOT`) to the crates
//! that depend on it and build it again in a nested cargo build for another target.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        println!("cargo::metadata=root={}", dir.to_string_lossy());
    }
}
