//! Merges the wasivfs VFS module into a prebuilt WASI preview 1 application module.
//!
//! The VFS joins the application as appended functions, tables, globals, segments and an
//! extra linear memory, so no index of the application shifts. The application's calls to
//! intercepted `wasi_snapshot_preview1` imports are routed to the VFS's `wasivfs_<name>`
//! exports; the VFS falls through to the original imports. The application is streamed: its
//! sections are copied as raw bytes and only function bodies that call an intercepted import
//! are re-encoded.
//!
//! Entry points: [`check_app`] (fast pre-checks), [`prepare_vfs`] (cleanup of the snapshotted
//! VFS), [`merge`] or [`Merger`] (the merge), and [`wasivfs_sections`] / [`memory_region`]
//! (reading a packed module back without a runtime), and [`lower_memories`] (single-memory
//! output: every memory folded into the application's).

#![warn(missing_docs)]

mod app;
mod bodies;
mod component;
mod encode;
mod error;
mod generate;
mod lower;
mod lower_body;
mod merge;
mod readback;
mod remap;
mod validate;
mod vfs;
pub mod wasi;

pub use app::{check_app, scan_app, AppInfo, InterceptedImport, MemoryInfo, ScannedApp};
pub use component::{classify_component, packed_core, replace_module, ComponentKind};
pub use encode::{Fill, FillError};
pub use error::{MergeError, Result};
pub use lower::{lower_memories, lower_memories_to, Lowering, SectionRewrite};
pub use merge::{append_layer_section, merge, Content, MergePlan, Merger, Validation};
pub use readback::{memory_region, passive_segments, wasivfs_sections};
pub use validate::{features as validation_features, validate_module, validate_module_except};
pub use vfs::{prepare_vfs, PlacedImage};
