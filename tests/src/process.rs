//! Running an outside program (a runtime, a browser) with captured output and a time limit.
//!
//! The child gets its own process group, so that on a timeout, and once it has exited, everything it
//! started (a browser's helper processes) is killed with it.

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
        Ok(Bounded { child, readers })
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits until the process exits or `limit` has passed since `start` (then kills it), and
    /// returns what it did. Its process group is killed either way.
    pub fn wait(mut self, start: Instant, limit: Duration) -> Result<Finished> {
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = self.child.try_wait().context("waiting for a child")? {
                break Some(status);
            }
            if start.elapsed() >= limit {
                timed_out = true;
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.kill_group();
        let status = match status {
            Some(s) => s,
            None => self.child.wait().context("waiting for a killed child")?,
        };
        let mut outputs = std::mem::take(&mut self.readers)
            .into_iter()
            .map(|h| h.join().unwrap_or_default());
        Ok(Finished {
            stdout: outputs.next().unwrap_or_default(),
            stderr: outputs.next().unwrap_or_default(),
            code: if timed_out { None } else { status.code() },
            timed_out,
        })
    }

    fn kill_group(&mut self) {
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
        let _ = self.child.wait();
    }
}

/// Runs `cmd` to completion with a time limit.
pub fn run(cmd: &mut Command, limit: Duration) -> Result<Finished> {
    let start = Instant::now();
    Bounded::spawn(cmd)?.wait(start, limit)
}
