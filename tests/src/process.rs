//! Running an outside program (a runtime, a browser) with captured output and a time limit.
//!
//! The child gets its own process group, so that on a timeout, and once it has exited, everything it
//! started (a browser's helper processes) is killed with it. The group is signalled only while the
//! child is not yet reaped: until then its process id, which names the group, cannot be given to
//! another process (another test's runtime, started meanwhile, would otherwise be killed).

use anyhow::{Context, Result};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a bounded child process did.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
    /// Its exit code; `None` if a signal ended it (or the time limit did).
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// Whether it was killed for running past its time limit.
    pub timed_out: bool,
}

impl Finished {
    /// stderr as text (lossy).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A child process in its own process group, killed with its group when dropped.
pub struct Bounded {
    child: Child,
    readers: Vec<JoinHandle<Vec<u8>>>,
    /// Whether the child has been waited for (its id may then name another process).
    reaped: bool,
}

fn reader(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        // A read error ends the capture; what was read so far is kept.
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

impl Bounded {
    /// Starts `cmd` with stdin empty and stdout and stderr captured.
    pub fn spawn(cmd: &mut Command) -> Result<Bounded> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(reader(out));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(reader(err));
        }
        Ok(Bounded {
            child,
            readers,
            reaped: false,
        })
    }

    /// Whether the process has exited. It is left unreaped, so its group can still be killed.
    pub fn exited(&mut self) -> bool {
        let pid: libc::id_t = self.child.id();
        // SAFETY: `info` is a plain C struct written by the call; WNOWAIT leaves the child as it is.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(
                libc::P_PID,
                pid,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            r != 0 || info.si_pid() != 0
        }
    }

    /// Waits until the process exits or `limit` has passed since `start` (then kills it), and
    /// returns what it did. Its process group is killed either way.
    pub fn wait(mut self, start: Instant, limit: Duration) -> Result<Finished> {
        let mut timed_out = false;
        while !self.exited() {
            if start.elapsed() >= limit {
                timed_out = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill_group();
        let status = self.child.wait().context("waiting for a child")?;
        self.reaped = true;
        let mut outputs = std::mem::take(&mut self.readers)
            .into_iter()
            .map(|h| h.join().unwrap_or_default());
        Ok(Finished {
            stdout: outputs.next().unwrap_or_default(),
            stderr: outputs.next().unwrap_or_default(),
            code: if timed_out { None } else { status.code() },
            signal: std::os::unix::process::ExitStatusExt::signal(&status),
            timed_out,
        })
    }

    fn kill_group(&mut self) {
        if self.reaped {
            return;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: killpg only sends a signal; the group is the one this child leads.
            unsafe {
                libc::killpg(pid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for Bounded {
    fn drop(&mut self) {
        self.kill_group();
        if !self.reaped {
            let _ = self.child.wait();
        }
    }
}

/// Runs `cmd` to completion with a time limit.
pub fn run(cmd: &mut Command, limit: Duration) -> Result<Finished> {
    let start = Instant::now();
    Bounded::spawn(cmd)?.wait(start, limit)
}

/// Wall time and peak resident set size of one child process that exited with 0.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// From spawn to exit.
    pub wall: Duration,
    /// The child's own peak RSS, in bytes, as the kernel counted it (`wait4`'s `ru_maxrss`).
    pub max_rss: u64,
}

/// Runs `cmd` to completion (stdout discarded, stderr captured) and measures it with `wait4`;
/// fails with its stderr if it does not exit with 0. Linux carries the peak RSS of the process
/// that spawns a child over `execve` into the child's own count, so measure children before
/// this process grows (before compiling a large module in-process, say).
pub fn measure(cmd: &mut Command) -> Result<Measured> {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("spawn")?;
    let stderr = child.stderr.take().map(reader);
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own child, not yet waited for; the pointers are valid for the call.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    if r != pid {
        anyhow::bail!("wait4: {}", std::io::Error::last_os_error());
    }
    let stderr = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        anyhow::bail!(
            "{cmd:?} failed (status {status}): {}",
            String::from_utf8_lossy(&stderr).trim()
        );
    }
    Ok(Measured {
        wall,
        // Linux counts ru_maxrss in KiB.
        max_rss: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
    })
}
