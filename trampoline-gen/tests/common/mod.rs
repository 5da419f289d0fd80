//! Fixtures shared by the integration tests: a small application and fake VFS modules with the
//! shape of the VFS guest ABI, plus a wasmtime harness with observable host functions.
#![allow(dead_code)]

use anyhow::{anyhow, Result};
use wasmtime::{Caller, Engine, Instance, Linker, Memory, Module, Store};

/// An application importing fd_write, path_open and fd_read (intercepted), proc_exit (not
/// intercepted) and a non-WASI import; with a table, an element segment naming fd_write, a
/// `ref.func` of fd_write, a start function, data, and a name section.
pub const APP: &str = r#"
(module
  (type $fd_write_t (func (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (type $fd_write_t)))
  (import "env" "host_log" (func $log (param i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (table $t 2 funcref)
  (elem (table $t) (i32.const 0) func $fd_write $plain)
  (elem declare func $fd_write)
  (global $started (mut i32) (i32.const 0))
  (data (i32.const 16) "hello")
  (func $init (global.set $started (i32.const 1)) (i32.store (i32.const 32) (i32.const 77)))
  (start $init)
  (func $plain (export "plain") (param i32 i32 i32 i32) (result i32)
    (i32.add (local.get 0) (i32.const 1000)))
  (func (export "started") (result i32) (global.get $started))
  (func (export "write") (param i32 i32 i32 i32) (result i32)
    (call $fd_write (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "read") (param i32 i32 i32 i32) (result i32)
    (call $fd_read (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "write_indirect") (param i32 i32 i32 i32) (result i32)
    (call_indirect $t (type $fd_write_t)
      (local.get 0) (local.get 1) (local.get 2) (local.get 3) (i32.const 0)))
  (func (export "write_ref") (param i32 i32 i32 i32) (result i32)
    (table.set $t (i32.const 1) (ref.func $fd_write))
    (call_indirect $t (type $fd_write_t)
      (local.get 0) (local.get 1) (local.get 2) (local.get 3) (i32.const 1)))
  (func (export "plain_indirect") (param i32) (result i32)
    (call_indirect $t (type $fd_write_t)
      (local.get 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1)))
  (func (export "open") (param i32) (result i32)
    (call $path_open (local.get 0) (i32.const 0) (i32.const 16) (i32.const 5) (i32.const 0)
      (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 40)))
  (func (export "log_it") (param i32) (call $log (local.get 0)))
  (func (export "exit") (param i32) (call $proc_exit (local.get 0)))
)
"#;

/// A fake VFS answering fd `base`..`base + 6` itself and falling through otherwise.
/// It stores `marker` (4 bytes) at address 1024 of its own memory.
pub fn vfs_wat(base: i32, marker: &str) -> String {
    format!(
        r#"
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $host_fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $host_path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $host_fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $host_fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasivfs_app" "copy_in" (func $copy_in (param i32 i32 i32)))
  (import "wasivfs_app" "copy_out" (func $copy_out (param i32 i32 i32)))
  (import "wasivfs_app" "size" (func $size (result i32)))
  (import "wasivfs_app" "load_u8" (func $load_u8 (param i32) (result i32)))
  (import "wasivfs_app" "load_u16" (func $load_u16 (param i32) (result i32)))
  (import "wasivfs_app" "load_u32" (func $load_u32 (param i32) (result i32)))
  (import "wasivfs_app" "load_u64" (func $load_u64 (param i32) (result i64)))
  (import "wasivfs_app" "store_u8" (func $store_u8 (param i32 i32)))
  (import "wasivfs_app" "store_u16" (func $store_u16 (param i32 i32)))
  (import "wasivfs_app" "store_u32" (func $store_u32 (param i32 i32)))
  (import "wasivfs_app" "store_u64" (func $store_u64 (param i32 i64)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "{marker}")
  (table $vt 1 funcref)
  (elem (table $vt) (i32.const 0) func $forty)
  (global $calls (mut i32) (i32.const 0))
  (global $base i32 (i32.const {base}))
  (func $forty (result i32) (i32.const 40))
  (func (export "wasivfs_fd_write") (param $fd i32) (param $iovs i32) (param $n i32) (param $nw i32) (result i32)
    (local $k i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (local.set $k (i32.sub (local.get $fd) (global.get $base)))
    ;; base: copy the marker to the app's first iovec buffer, report 4 bytes written
    (if (i32.eqz (local.get $k)) (then
      (call $copy_out (call $load_u32 (local.get $iovs)) (i32.const 1024) (i32.const 4))
      (call $store_u32 (local.get $nw) (i32.const 4))
      (return (i32.const 0))))
    ;; base+1: a host function the application does not import (ENOSYS stub)
    (if (i32.eq (local.get $k) (i32.const 1)) (then (return (call $host_fd_close (i32.const 3)))))
    ;; base+2: the application memory size in pages
    (if (i32.eq (local.get $k) (i32.const 2)) (then (return (call $size))))
    ;; base+3: an indirect call through the VFS's own table
    (if (i32.eq (local.get $k) (i32.const 3)) (then
      (return (call_indirect $vt (result i32) (i32.const 0)))))
    ;; base+4: copy the app's first iovec buffer into VFS memory and return its first word
    (if (i32.eq (local.get $k) (i32.const 4)) (then
      (call $copy_in (i32.const 2048) (call $load_u32 (local.get $iovs)) (i32.const 4))
      (return (i32.load (i32.const 2048)))))
    ;; base+5: unaligned loads and stores
    (if (i32.eq (local.get $k) (i32.const 5)) (then
      (call $store_u64 (i32.const 203) (call $load_u64 (i32.const 301)))
      (call $store_u16 (i32.const 101) (i32.const 0xBEEF))
      (call $store_u8 (i32.const 99) (i32.const 0x1FF))
      (return (i32.add (call $load_u16 (i32.const 101)) (call $load_u8 (i32.const 99))))))
    ;; base+6: how many calls this VFS has seen
    (if (i32.eq (local.get $k) (i32.const 6)) (then (return (global.get $calls))))
    (call $host_fd_write (local.get $fd) (local.get $iovs) (local.get $n) (local.get $nw)))
  (func (export "wasivfs_path_open")
    (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)
    (if (i32.eq (local.get 0) (global.get $base)) (then
      (call $store_u32 (local.get 8) (i32.add (global.get $base) (i32.const 42)))
      (return (i32.const 0))))
    (call $host_path_open (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
      (local.get 5) (local.get 6) (local.get 7) (local.get 8)))
  (func (export "wasivfs_fd_read") (param i32 i32 i32 i32) (result i32)
    (call $host_fd_read (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
  (func (export "wasivfs_fd_close") (param i32) (result i32)
    (call $host_fd_close (local.get 0)))
)
"#
    )
}

/// Parses WAT text into a binary module.
pub fn wasm(text: &str) -> Vec<u8> {
    match wat::parse_str(text) {
        Ok(b) => b,
        Err(e) => panic!("fixture does not parse: {e}"),
    }
}

/// What the host functions saw.
#[derive(Default, Debug)]
pub struct Host {
    /// fds passed to the host's fd_write.
    pub writes: Vec<i32>,
    /// fds passed to the host's path_open.
    pub opens: Vec<i32>,
    /// Values passed to env.host_log.
    pub logs: Vec<i32>,
}

/// An instantiated module with its store.
pub struct Run {
    pub store: Store<Host>,
    pub instance: Instance,
    pub memory: Memory,
}

impl Run {
    /// Instantiates `bytes` with host functions that record their calls.
    pub fn new(bytes: &[u8]) -> Result<Run> {
        let engine = Engine::default();
        let module = Module::new(&engine, bytes)?;
        let mut linker: Linker<Host> = Linker::new(&engine);
        let w = "wasi_snapshot_preview1";
        linker.func_wrap(
            w,
            "fd_write",
            |mut c: Caller<'_, Host>, fd: i32, _: i32, _: i32, _: i32| {
                c.data_mut().writes.push(fd);
                9
            },
        )?;
        linker.func_wrap(w, "fd_read", |_: i32, _: i32, _: i32, _: i32| 8)?;
        linker.func_wrap(
            w,
            "path_open",
            |mut c: Caller<'_, Host>,
             fd: i32,
             _: i32,
             _: i32,
             _: i32,
             _: i32,
             _: i64,
             _: i64,
             _: i32,
             _: i32| {
                c.data_mut().opens.push(fd);
                44
            },
        )?;
        linker.func_wrap(w, "proc_exit", |_: i32| {})?;
        linker.func_wrap("env", "host_log", |mut c: Caller<'_, Host>, v: i32| {
            c.data_mut().logs.push(v);
        })?;
        let mut store = Store::new(&engine, Host::default());
        let instance = linker.instantiate(&mut store, &module)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| anyhow!("no memory export"))?;
        Ok(Run {
            store,
            instance,
            memory,
        })
    }

    /// Calls an exported `(i32, i32, i32, i32) -> i32` function.
    pub fn call4(&mut self, name: &str, args: (i32, i32, i32, i32)) -> Result<i32> {
        let f = self
            .instance
            .get_typed_func::<(i32, i32, i32, i32), i32>(&mut self.store, name)?;
        Ok(f.call(&mut self.store, args)?)
    }

    /// Calls an exported `(i32) -> i32` function.
    pub fn call1(&mut self, name: &str, arg: i32) -> Result<i32> {
        let f = self
            .instance
            .get_typed_func::<i32, i32>(&mut self.store, name)?;
        Ok(f.call(&mut self.store, arg)?)
    }

    /// Writes bytes into the application memory.
    pub fn poke(&mut self, addr: usize, bytes: &[u8]) -> Result<()> {
        self.memory.write(&mut self.store, addr, bytes)?;
        Ok(())
    }

    /// Reads bytes from the application memory.
    pub fn peek(&self, addr: usize, len: usize) -> Vec<u8> {
        self.memory.data(&self.store)[addr..addr + len].to_vec()
    }

    /// Sets up one iovec at 0 pointing at `buf` (4 bytes) with `nwritten` at 8.
    pub fn iovec(&mut self, buf: u32) -> Result<()> {
        let mut v = buf.to_le_bytes().to_vec();
        v.extend_from_slice(&4u32.to_le_bytes());
        self.poke(0, &v)
    }
}
