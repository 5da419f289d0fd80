//! Progress of a pack, reported as [`Event`]s to a [`Progress`] observer (the command line draws
//! bars from them), and the time each [`Stage`] took.

use std::time::Duration;

/// The stages of a pack, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Reading the input module and checking it.
    Read,
    /// Walking the mapped directories, and hashing the files whose size another file shares
    /// (the VFS is compiled meanwhile, on another core).
    Walk,
    /// Laying the tree out as an image.
    Layout,
    /// Running the VFS's initializer with the image (metadata) and snapshotting it.
    Snapshot,
    /// Merging the VFS into the application (and lowering it to one memory) while writing the
    /// output into its temporary file, the file contents copied in from the host files.
    Merge,
    /// Validating the written output and renaming it over the target.
    Write,
}

impl Stage {
    /// A short lowercase name (`walk`, `snapshot`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Read => "read",
            Stage::Walk => "walk",
            Stage::Layout => "layout",
            Stage::Snapshot => "snapshot",
            Stage::Merge => "merge",
            Stage::Write => "write",
        }
    }
}

/// Something that happened during a pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A stage begins.
    Start(Stage),
    /// The walk has seen `files` regular files holding `bytes` bytes so far.
    Walked {
        /// Regular files so far.
        files: u64,
        /// Their total size.
        bytes: u64,
    },
    /// `done` of the `total` bytes of file contents have been copied into the output.
    Content {
        /// Bytes copied.
        done: u64,
        /// Length of all distinct contents.
        total: u64,
    },
    /// `done` of the `total` output bytes have been written.
    Written {
        /// Bytes written.
        done: u64,
        /// Output length.
        total: u64,
    },
    /// A stage finished after `elapsed`.
    Done(Stage, Duration),
}

/// Receives the [`Event`]s of a pack. Calls come from the packing thread, in order.
pub trait Progress: Send + Sync {
    /// Called for each event.
    fn event(&self, event: Event);
}

/// Ignores every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: Event) {}
}
