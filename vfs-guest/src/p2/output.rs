//! The output streams of embedded files (`write-via-stream`, `append-via-stream`), `splice`
//! between any two streams, and the stream `error`s a failed write hands out.
//!
//! An output stream follows wasmtime's file output stream call by call (see [`OutState`]):
//! `check-write` allows 64 KiB, and 0 while a `write` has not settled; a write over a pending
//! one traps; a failed write is reported once, by the next call, and closes the stream;
//! `blocking-write-and-flush` takes at most 4096 bytes.

use crate::mem;
use crate::p2::abi::{
    alloc_bytes, error_code, error_code_name, load_stream, must, pair, put_stream, StreamError,
};
use crate::p2::front::{write_from, HEAD, MAX_READ};
use crate::p2::host::P2Host;
use crate::p2::streams::input_read_into;
use crate::p2::{trap, unknown_handle, OutState, Resource, SCRATCH_LEN};
use crate::wasi::Errno;
use crate::Vfs;

/// Bytes `check-write` allows on a ready stream, as wasmtime's file output stream.
const WRITE_CAPACITY: u64 = MAX_READ;
/// Most bytes one `blocking-write-and-flush` (or `-zeroes-`) takes; more traps, as on the host.
const BLOCKING_MAX: u64 = 4096;
/// How many times a blocking call waits on a host stream that allows no bytes before it traps,
/// as wasmtime's host does.
const MAX_WAITS: u32 = 10;

/// What a write puts in the file: application bytes, or zeroes.
#[derive(Clone, Copy)]
enum Bytes {
    /// `(address, length)` in application memory.
    App(u32, u32),
    /// This many zero bytes.
    Zeroes(u32),
}

/// Output stream `s` (one of ours): its fd, where it writes, its state.
fn output(vfs: &Vfs<'_>, s: i32) -> (u32, Option<u64>, OutState) {
    match vfs.p2.get(s) {
        Resource::Output { fd, at, state } => (fd, at, state),
        _ => unknown_handle(),
    }
}

/// Sets the state of output stream `s` (and where it writes next).
fn set(vfs: &mut Vfs<'_>, s: i32, at: Option<u64>, state: OutState) {
    let (fd, ..) = output(vfs, s);
    vfs.p2.set(s, Resource::Output { fd, at, state });
}

/// A new stream `error` handle for `e`.
fn failed(vfs: &mut Vfs<'_>, e: Errno) -> StreamError {
    StreamError::Failed(vfs.p2.insert(Resource::Error(e)))
}

/// Settles the pending write of stream `s` (one of ours; an input stream has none): what a
/// host stream does once its pollable is ready.
pub(crate) fn settle(vfs: &mut Vfs<'_>, s: i32) {
    if let Resource::Output {
        fd,
        at,
        state: OutState::Pending(e),
    } = vfs.p2.get(s)
    {
        let state = e.map_or(OutState::Ready, OutState::Failed);
        vfs.p2.set(s, Resource::Output { fd, at, state });
    }
}

/// Writes `bytes` to core fd `fd` at `at` (or at its end): where the next write goes.
fn write_now<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: u32,
    at: Option<u64>,
    bytes: Bytes,
) -> Result<Option<u64>, Errno> {
    let o = vfs.open_at_fd(fd)?;
    let mut pos = match at {
        Some(p) => p,
        None => vfs.file_size(&o)?,
    };
    match bytes {
        Bytes::App(buf, len) => write_all(vfs, h, fd, &mut pos, (buf, len))?,
        Bytes::Zeroes(mut left) => {
            // From a zeroed block of the scratch space, after the words the core writes.
            let zeroes = vfs.scratch(h)? + HEAD;
            let cap = SCRATCH_LEN - HEAD;
            mem::write_bytes(h, zeroes, &alloc::vec![0; cap.min(left) as usize])?;
            while left > 0 {
                let n = left.min(cap);
                write_all(vfs, h, fd, &mut pos, (zeroes, n))?;
                left -= n;
            }
        }
    }
    Ok(at.map(|_| pos))
}

/// Writes all of application block `(buf, len)` to core fd `fd` at `*pos`, which moves on.
fn write_all<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    fd: u32,
    pos: &mut u64,
    (mut buf, mut len): (u32, u32),
) -> Result<(), Errno> {
    while len > 0 {
        let n = write_from(vfs, h, fd, (buf, len), *pos)?.min(len);
        if n == 0 {
            return Err(crate::wasi::EIO);
        }
        (buf, len, *pos) = (buf + n, len - n, *pos + u64::from(n));
    }
    Ok(())
}

/// `check-write` on our stream `s`.
fn check_write(vfs: &mut Vfs<'_>, s: i32) -> Result<u64, StreamError> {
    let (_, at, state) = output(vfs, s);
    match state {
        OutState::Ready => Ok(WRITE_CAPACITY),
        OutState::Pending(_) => Ok(0),
        OutState::Failed(e) => {
            set(vfs, s, at, OutState::Closed);
            Err(failed(vfs, e))
        }
        OutState::Closed => Err(StreamError::Closed),
    }
}

/// `write` on our stream `s`: done now, settled later; a write over an unsettled one traps.
fn write<H: P2Host>(vfs: &mut Vfs<'_>, h: &mut H, s: i32, bytes: Bytes) -> Result<(), StreamError> {
    let (fd, at, state) = output(vfs, s);
    match state {
        OutState::Ready => {
            let (next, e) = match write_now(vfs, h, fd, at, bytes) {
                Ok(next) => (next, None),
                Err(e) => (at, Some(e)),
            };
            set(vfs, s, next, OutState::Pending(e));
            Ok(())
        }
        OutState::Closed => Err(StreamError::Closed),
        OutState::Pending(_) | OutState::Failed(_) => trap(),
    }
}

/// A blocking write of our stream `s`: waits for the last write, then writes.
fn blocking_write<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    s: i32,
    bytes: Bytes,
) -> Result<(), StreamError> {
    settle(vfs, s);
    let (fd, at, state) = output(vfs, s);
    match state {
        OutState::Ready => match write_now(vfs, h, fd, at, bytes) {
            Ok(next) => {
                set(vfs, s, next, OutState::Ready);
                Ok(())
            }
            Err(e) => {
                set(vfs, s, at, OutState::Closed);
                Err(failed(vfs, e))
            }
        },
        OutState::Failed(e) => {
            set(vfs, s, at, OutState::Closed);
            Err(failed(vfs, e))
        }
        OutState::Closed | OutState::Pending(_) => Err(StreamError::Closed),
    }
}

/// `flush` on our stream `s`: nothing is buffered; reports a failed write.
fn flush(vfs: &mut Vfs<'_>, s: i32) -> Result<(), StreamError> {
    let (_, at, state) = output(vfs, s);
    match state {
        OutState::Ready | OutState::Pending(_) => Ok(()),
        OutState::Failed(e) => {
            set(vfs, s, at, OutState::Closed);
            Err(failed(vfs, e))
        }
        OutState::Closed => Err(StreamError::Closed),
    }
}

/// Writes a `result<u64, stream-error>` at `ret`.
fn put_u64<H: P2Host>(h: &mut H, ret: i32, r: Result<u64, StreamError>) {
    let bytes = r.map(u64::to_le_bytes);
    put_stream(h, ret, 8, bytes.as_ref().map(|b| &b[..]).map_err(|e| *e));
}

/// Writes a `result<_, stream-error>` at `ret`.
fn put_unit<H: P2Host>(h: &mut H, ret: i32, r: Result<(), StreamError>) {
    put_stream(h, ret, 4, r.map(|()| &[][..]));
}

/// Traps when a blocking write asks for more than the host takes at once.
fn blocking_len(len: u64) -> u32 {
    if len > BLOCKING_MAX {
        trap();
    }
    len as u32
}

served! {
    /// `[method]output-stream.check-write`.
    fn output_stream_check_write(vfs, h, s, ret: i32) {
        let r = check_write(vfs, s);
        put_u64(h, ret, r);
    }

    /// `[method]output-stream.write`.
    fn output_stream_write(vfs, h, s, buf: i32, len: i32, ret: i32) {
        let r = write(vfs, h, s, Bytes::App(buf as u32, len as u32));
        put_unit(h, ret, r);
    }

    /// `[method]output-stream.blocking-write-and-flush`.
    fn output_stream_blocking_write_and_flush(vfs, h, s, buf: i32, len: i32, ret: i32) {
        let len = blocking_len(len as u32 as u64);
        let r = blocking_write(vfs, h, s, Bytes::App(buf as u32, len));
        put_unit(h, ret, r);
    }

    /// `[method]output-stream.flush`.
    fn output_stream_flush(vfs, h, s, ret: i32) {
        let r = flush(vfs, s);
        put_unit(h, ret, r);
    }

    /// `[method]output-stream.blocking-flush`: flushes, then waits for the last write.
    fn output_stream_blocking_flush(vfs, h, s, ret: i32) {
        let r = flush(vfs, s).and_then(|()| {
            settle(vfs, s);
            check_write(vfs, s).map(drop)
        });
        put_unit(h, ret, r);
    }

    /// `[method]output-stream.subscribe`: a pollable that is always ready.
    fn output_stream_subscribe(vfs, h, s) -> i32 {
        output(vfs, s);
        vfs.p2.insert(Resource::Pollable { parent: s })
    }

    /// `[method]output-stream.write-zeroes`: at most what `check-write` allows (more traps).
    fn output_stream_write_zeroes(vfs, h, s, len: i64, ret: i32) {
        let r = check_write(vfs, s).and_then(|permit| {
            if len as u64 > permit {
                trap();
            }
            write(vfs, h, s, Bytes::Zeroes(len as u32))
        });
        put_unit(h, ret, r);
    }

    /// `[method]output-stream.blocking-write-zeroes-and-flush`.
    fn output_stream_blocking_write_zeroes_and_flush(vfs, h, s, len: i64, ret: i32) {
        let len = blocking_len(len as u64);
        let r = blocking_write(vfs, h, s, Bytes::Zeroes(len));
        put_unit(h, ret, r);
    }

    /// `[resource-drop]output-stream`.
    fn drop_output_stream(vfs, h, s) {
        match vfs.p2.remove(s) {
            Resource::Output { fd, .. } => {
                vfs.fd_close(h, fd as i32);
            }
            _ => unknown_handle(),
        }
    }

    /// `[method]error.to-debug-string`.
    fn error_to_debug_string(vfs, h, e, ret: i32) {
        let Resource::Error(errno) = vfs.p2.get(e) else {
            unknown_handle()
        };
        let code = error_code(errno);
        let name = error_code_name(code).as_bytes();
        let text = [name, b" (a write to an embedded file failed)"].concat();
        let (ptr, n) = must(alloc_bytes(h, &text, 1));
        must(mem::write_bytes(h, ret as u32, &pair(ptr, n)));
    }

    /// `[resource-drop]error`.
    fn drop_error(vfs, h, e) {
        if !matches!(vfs.p2.remove(e), Resource::Error(_)) {
            unknown_handle();
        }
    }

    /// `filesystem-error-code`: the `error-code` of the failed write.
    fn filesystem_error_code(vfs, h, e, ret: i32) {
        let Resource::Error(errno) = vfs.p2.get(e) else {
            unknown_handle()
        };
        must(mem::write_bytes(h, ret as u32, &[1, error_code(errno)]));
    }
}

/// One end of a `splice`: a stream of ours or of the host.
struct End(i32);

impl End {
    /// `check-write` (or, `blocking`, waiting until it allows some bytes).
    fn permit<H: P2Host>(
        &self,
        vfs: &mut Vfs<'_>,
        h: &mut H,
        blocking: bool,
    ) -> Result<u64, StreamError> {
        if vfs.p2.is_ours(self.0) {
            if blocking {
                settle(vfs, self.0);
            }
            return check_write(vfs, self.0);
        }
        let r = must(vfs.scratch(h));
        for _ in 0..MAX_WAITS {
            if blocking {
                let p = h.output_stream_subscribe(self.0);
                h.pollable_block(p);
                h.drop_pollable(p);
            }
            h.output_stream_check_write(self.0, r as i32);
            load_stream(h, r, 8)?;
            let n = must(mem::load_u64(h, r + 8));
            if n > 0 || !blocking {
                return Ok(n);
            }
        }
        trap()
    }

    /// Reads at most `len` bytes: (address, length) of the bytes read, in the bounce block for
    /// a stream of ours, in a block the host allocated for one of the host's.
    fn read<H: P2Host>(
        &self,
        vfs: &mut Vfs<'_>,
        h: &mut H,
        len: u64,
        blocking: bool,
    ) -> Result<(u32, u32), StreamError> {
        let len = len.min(MAX_READ) as u32;
        if vfs.p2.is_ours(self.0) {
            let b = must(vfs.bounce(h));
            return input_read_into(vfs, h, self.0, (b, len)).map(|n| (b, n));
        }
        let r = must(vfs.scratch(h));
        if blocking {
            h.input_stream_blocking_read(self.0, i64::from(len), r as i32);
        } else {
            h.input_stream_read(self.0, i64::from(len), r as i32);
        }
        load_stream(h, r, 4)?;
        Ok((must(mem::load_u32(h, r + 4)), must(mem::load_u32(h, r + 8))))
    }

    /// Writes `(buf, len)` (with `blocking`, and flushes).
    fn write<H: P2Host>(
        &self,
        vfs: &mut Vfs<'_>,
        h: &mut H,
        (buf, len): (u32, u32),
        blocking: bool,
    ) -> Result<(), StreamError> {
        if vfs.p2.is_ours(self.0) {
            let bytes = Bytes::App(buf, len);
            return if blocking {
                blocking_write(vfs, h, self.0, bytes)
            } else {
                write(vfs, h, self.0, bytes)
            };
        }
        let r = must(vfs.scratch(h));
        if !blocking {
            h.output_stream_write(self.0, buf as i32, len as i32, r as i32);
            return load_stream(h, r, 4);
        }
        let mut done = 0;
        while done < len {
            let n = (len - done).min(BLOCKING_MAX as u32);
            h.output_stream_blocking_write_and_flush(
                self.0,
                (buf + done) as i32,
                n as i32,
                r as i32,
            );
            load_stream(h, r, 4)?;
            done += n;
        }
        Ok(())
    }
}

/// `splice` (or `blocking-splice`) from `src` to `dest`, one of them ours: as the host does,
/// at most what the destination allows now, read from the source once, written once.
fn splice<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    (dest, src): (End, End),
    len: u64,
    blocking: bool,
) -> Result<u64, StreamError> {
    let len = len.min(dest.permit(vfs, h, blocking)?);
    if len == 0 {
        return Ok(0);
    }
    let (buf, n) = src.read(vfs, h, len, blocking)?;
    if n == 0 {
        return Ok(0);
    }
    dest.write(vfs, h, (buf, n), blocking)?;
    Ok(u64::from(n))
}

/// A `splice` call (`blocking` or not) on `dest` and `src`, whose result goes to `ret`: with
/// both streams the host's, the host's function of the same name (`host`) serves it.
fn splice_call<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    (dest, src, len, ret): (i32, i32, i64, i32),
    blocking: bool,
    host: fn(&mut H, i32, i32, i64, i32),
) {
    if !vfs.p2.is_ours(dest) && !vfs.p2.is_ours(src) {
        return host(h, dest, src, len, ret);
    }
    let r = splice(vfs, h, (End(dest), End(src)), len as u64, blocking);
    put_u64(h, ret, r);
}

/// `[method]output-stream.splice`.
pub(crate) fn output_stream_splice<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    dest: i32,
    src: i32,
    len: i64,
    ret: i32,
) {
    splice_call(
        vfs,
        h,
        (dest, src, len, ret),
        false,
        H::output_stream_splice,
    );
}

/// `[method]output-stream.blocking-splice`.
pub(crate) fn output_stream_blocking_splice<H: P2Host>(
    vfs: &mut Vfs<'_>,
    h: &mut H,
    dest: i32,
    src: i32,
    len: i64,
    ret: i32,
) {
    let host = H::output_stream_blocking_splice;
    splice_call(vfs, h, (dest, src, len, ret), true, host);
}
