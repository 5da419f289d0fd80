//! Native tests of the VFS core against a mock host.

mod fdtable_tests;
mod fs_tests;
mod mock;
#[cfg(feature = "p2")]
mod p2_tests;
#[cfg(feature = "p2")]
mod p2_write_tests;
mod poll_tests;
mod program_tests;
mod readdir_tests;
mod write_tests;
