//! `poll_oneoff` across host and embedded fds, and the socket calls (embedded fds are never
//! sockets: `ENOTSOCK`).
//!
//! Embedded files are always ready. If any subscription names an embedded fd, the call answers at
//! once with events for the embedded subscriptions only (in subscription order) and never blocks.
//! Otherwise the fds in the application's subscription array are translated to host numbers in
//! place, the host is called, and the array is restored.

use alloc::vec::Vec;

use crate::fdtable::{Slot, Tree};
use crate::host::Host;
use crate::mem;
use crate::vfs::{check_fdflags, routed_calls, Vfs};
use crate::wasi::{
    eventtype, Errno, EBADF, EINVAL, ENOTSOCK, EPERM, EVENT_SIZE, SUBSCRIPTION_FD_OFFSET,
    SUBSCRIPTION_SIZE,
};

/// `FD_READWRITE_HANGUP` in an event's flags.
const HANGUP: u16 = 1;

/// The arguments of a `poll_oneoff` call: where the `n` subscriptions are, where the events go
/// and where their count goes.
#[derive(Clone, Copy)]
struct PollCall {
    subs: u32,
    events: u32,
    n: u32,
    nevents: u32,
}

impl PollCall {
    /// Address of subscription `i`.
    fn sub(&self, i: u32) -> u32 {
        self.subs + i * SUBSCRIPTION_SIZE
    }
}

routed_calls! {
    /// `sock_accept`.
    fn sock_accept(fd: i32, flags: i32, fd_out: i32)
        check check_fdflags(flags)
        => route_new_fd(fd; fd_out) |_, _, _| Err(ENOTSOCK);

    /// `sock_recv`.
    fn sock_recv(fd: i32, ri_data: i32, ri_len: i32, ri_flags: i32, ro_len: i32, ro_flags: i32)
        => route(fd) |_, _, _| Err(ENOTSOCK);

    /// `sock_send`.
    fn sock_send(fd: i32, si_data: i32, si_len: i32, si_flags: i32, so_len: i32)
        => route(fd) |_, _, _| Err(ENOTSOCK);

    /// `sock_shutdown`.
    fn sock_shutdown(fd: i32, how: i32) => route(fd) |_, _, _| Err(ENOTSOCK);
}

impl Vfs<'_> {
    /// `poll_oneoff`.
    pub fn poll_oneoff<H: Host>(
        &mut self,
        h: &mut H,
        subs: i32,
        events: i32,
        n: i32,
        nevents: i32,
    ) -> i32 {
        self.start(h);
        let call = PollCall {
            subs: subs as u32,
            events: events as u32,
            n: n as u32,
            nevents: nevents as u32,
        };
        Errno::ret(self.poll(h, call))
    }

    fn poll<H: Host>(&mut self, h: &mut H, call: PollCall) -> Result<(), Errno> {
        let PollCall {
            subs,
            events,
            n,
            nevents,
        } = call;
        if n == 0 {
            return Err(EINVAL);
        }
        let bytes = n as u64 * SUBSCRIPTION_SIZE as u64;
        mem::check(h, subs, bytes)?;
        // (index, guest fd, slot) of each fd subscription.
        let mut fd_subs: Vec<(u32, u32, Option<Slot>)> = Vec::new();
        let mut any_embedded = false;
        for i in 0..n {
            let at = call.sub(i);
            let mut tag = [0u8; 1];
            h.copy_in(&mut tag, at + 8);
            if tag[0] == eventtype::FD_READ || tag[0] == eventtype::FD_WRITE {
                let fd = h.load_u32(at + SUBSCRIPTION_FD_OFFSET);
                let slot = self.table.get(fd).copied();
                any_embedded |= matches!(slot, Some(Slot::Embedded(_)));
                fd_subs.push((i, fd, slot));
            }
        }
        if any_embedded {
            return self.poll_embedded(h, call);
        }
        for (_, _, slot) in &fd_subs {
            if slot.is_none() {
                return Err(EBADF);
            }
        }
        for (i, _, slot) in &fd_subs {
            if let Some(Slot::Host(host_fd)) = slot {
                h.store_u32(call.sub(*i) + SUBSCRIPTION_FD_OFFSET, *host_fd);
            }
        }
        let r = h.poll_oneoff(subs as i32, events as i32, n as i32, nevents as i32);
        for (i, fd, _) in &fd_subs {
            h.store_u32(call.sub(*i) + SUBSCRIPTION_FD_OFFSET, *fd);
        }
        Errno::check(r)
    }

    fn poll_embedded<H: Host>(&mut self, h: &mut H, call: PollCall) -> Result<(), Errno> {
        let PollCall {
            events, nevents, ..
        } = call;
        let mut out: Vec<[u8; EVENT_SIZE as usize]> = Vec::new();
        for i in 0..call.n {
            let at = call.sub(i);
            let mut head = [0u8; 9];
            h.copy_in(&mut head, at);
            let tag = head[8];
            if tag != eventtype::FD_READ && tag != eventtype::FD_WRITE {
                continue;
            }
            let fd = h.load_u32(at + SUBSCRIPTION_FD_OFFSET);
            let open = match self.table.get(fd) {
                None => return Err(EBADF),
                Some(Slot::Host(_)) => continue,
                Some(Slot::Embedded(o)) => *o,
            };
            open.file()?;
            let size = self.file_size(&open).unwrap_or(0);
            let flags = if tag == eventtype::FD_WRITE {
                if open.tree == Tree::Image {
                    // A read-only preopen refuses a write stream on its files.
                    return Err(EPERM);
                }
                0
            } else if size <= open.pos {
                HANGUP
            } else {
                0
            };
            let mut ev = [0u8; EVENT_SIZE as usize];
            ev[0..8].copy_from_slice(&head[0..8]);
            ev[10] = tag;
            ev[16..24].copy_from_slice(&1u64.to_le_bytes());
            ev[24..26].copy_from_slice(&flags.to_le_bytes());
            out.push(ev);
        }
        mem::check(h, events, out.len() as u64 * EVENT_SIZE as u64)?;
        for (k, ev) in out.iter().enumerate() {
            h.copy_out(events + k as u32 * EVENT_SIZE, ev);
        }
        mem::store_u32(h, nevents, out.len() as u32)
    }
}
