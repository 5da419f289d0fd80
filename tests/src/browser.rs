//! Running a module in a real headless browser.
//!
//! A small HTTP server on 127.0.0.1 (an ephemeral port) serves `fixtures/runtimes/page.html`, its
//! script, the JavaScript packages of [`crate::runtimes::js_dir`], the module and the job; the
//! page runs the module with `@bjorn3/browser_wasi_shim` (CRuby through ruby.wasm's browser entry
//! point) and posts the program's output back. The browser gets a fresh profile, and it and the
//! server stop as soon as the result is in, or at the time limit.
//!
//! The server gives every connection its own thread and answers one request per connection
//! (`Connection: close`). A pool of connection threads is what once made Chromium hang under load:
//! the page's module imports came in on more keep-alive connections than the pool had threads
//! (`docs/compatibility.md`, the Chromium note).

use crate::process::Bounded;
use crate::runtimes::{fixture, js_dir, GuestRun, Runtime, RUN_LIMIT};
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the page is to do with the module.
#[derive(Debug, Clone)]
pub enum Job {
    /// Run a command module with this argv (argv\[0\] included).
    Command(Vec<String>),
    /// Boot a CRuby reactor and `require` this file.
    Ruby(String),
}

impl Job {
    fn to_json(&self) -> String {
        match self {
            Job::Command(args) => json!({ "mode": "command", "args": args }),
            Job::Ruby(entry) => json!({ "mode": "ruby", "entry": entry }),
        }
        .to_string()
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// What the server serves for one run, and what it has served so far.
struct Site {
    js: PathBuf,
    module: PathBuf,
    job: String,
    /// `METHOD /path` of every request answered, in order (for the error of a page that hangs).
    served: Mutex<Vec<String>>,
}

/// One HTTP request: its method, its target and its body.
struct Request {
    method: String,
    url: String,
    body: Vec<u8>,
}

/// The largest request head the server reads (the browser's are a few hundred bytes).
const MAX_HEAD: usize = 64 * 1024;

/// Reads one request from `stream`; `None` if the client closed or sent no valid HTTP/1 request.
fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_len = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_len]).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, url) = (request_line.next()?, request_line.next()?);
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .map_or(Some(0), |(_, v)| v.trim().parse::<usize>().ok())?;
    let mut body = buf[head_len..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some(Request {
        method: method.to_string(),
        url: url.to_string(),
        body,
    })
}

impl Site {
    /// The file behind a GET path, or `None` (404). Paths under `/node_modules/` may not climb.
    fn file(&self, url: &str) -> Option<PathBuf> {
        let path = url.split('?').next().unwrap_or(url);
        match path {
            "/" => Some(fixture("page.html")),
            "/page.mjs" => Some(fixture("page.mjs")),
            "/module.wasm" => Some(self.module.clone()),
            _ => {
                let rest = path.strip_prefix("/node_modules/")?;
                let rel = Path::new(rest);
                if rel.components().all(|c| matches!(c, Component::Normal(_))) {
                    Some(self.js.join("node_modules").join(rel))
                } else {
                    None
                }
            }
        }
    }

    /// Answers the one request of a connection and closes it.
    fn respond(&self, mut stream: TcpStream, results: &mpsc::Sender<Result<String>>) {
        let Some(req) = read_request(&mut stream) else {
            return;
        };
        let (status, content_type, body) = match (req.method.as_str(), req.url.as_str()) {
            ("POST", "/result") => {
                let got = String::from_utf8(req.body).context("the page's result is not UTF-8");
                let _ = results.send(got);
                ("200 OK", "text/plain", b"ok".to_vec())
            }
            ("GET", "/job.json") => ("200 OK", "application/json", self.job.clone().into_bytes()),
            ("GET", url) => match self.file(url).and_then(|p| {
                let bytes = std::fs::read(&p).ok()?;
                Some((p, bytes))
            }) {
                Some((p, bytes)) => ("200 OK", content_type(&p), bytes),
                None => ("404 Not Found", "text/plain", b"not found".to_vec()),
            },
            _ => ("400 Bad Request", "text/plain", b"bad request".to_vec()),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            body.len()
        );
        // The page may be gone already (the browser is killed once the result is in).
        let _ = stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(&body));
        if let Ok(mut served) = self.served.lock() {
            served.push(format!("{} {}", req.method, req.url));
        }
    }

    /// The requests answered so far, for an error message.
    fn served(&self) -> String {
        match self.served.lock() {
            Ok(s) if !s.is_empty() => s.join(", "),
            _ => "none".to_string(),
        }
    }
}

/// The running server: it accepts until [`Served::stop`].
struct Served {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepting: JoinHandle<()>,
}

impl Served {
    /// Starts serving `site` on an ephemeral port of 127.0.0.1; results go to `results`.
    fn start(site: Arc<Site>, results: mpsc::Sender<Result<String>>) -> Result<Served> {
        let listener = TcpListener::bind("127.0.0.1:0").context("starting the server")?;
        let addr = listener.local_addr().context("the server's address")?;
        let stop = Arc::new(AtomicBool::new(false));
        let accepting = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = conn else { continue };
                    let (site, results) = (site.clone(), results.clone());
                    std::thread::spawn(move || site.respond(stream, &results));
                }
            })
        };
        Ok(Served {
            addr,
            stop,
            accepting,
        })
    }

    /// Stops accepting (a connection of its own wakes the accepting thread) and waits for it.
    /// Connections still open end when the browser, killed by then, closes them.
    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
        let _ = self.accepting.join();
    }
}

/// The browser command line that opens `url` with a fresh profile in `profile`.
fn browser_command(rt: Runtime, program: &Path, profile: &Path, url: &str) -> Result<Command> {
    let mut cmd = Command::new(program);
    match rt {
        Runtime::Chromium => {
            cmd.args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            // Its temporary files too, so that none outlives the run (it ends by SIGKILL).
            .env("TMPDIR", profile);
        }
        Runtime::Firefox => {
            // No updates, telemetry, first-run pages or outside connections.
            let prefs = [
                ("app.update.disabledForTesting", "true"),
                ("browser.shell.checkDefaultBrowser", "false"),
                ("browser.startup.homepage_override.mstone", "\"ignore\""),
                ("datareporting.policy.dataSubmissionEnabled", "false"),
                ("toolkit.telemetry.reportingpolicy.firstRun", "false"),
                ("browser.safebrowsing.update.enabled", "false"),
                ("network.captive-portal-service.enabled", "false"),
                ("network.connectivity-service.enabled", "false"),
                ("extensions.update.enabled", "false"),
                ("browser.aboutwelcome.enabled", "false"),
            ];
            let user_js: String = prefs
                .iter()
                .map(|(k, v)| format!("user_pref(\"{k}\", {v});\n"))
                .collect();
            std::fs::write(profile.join("user.js"), user_js).context("writing user.js")?;
            cmd.args(["--headless", "--no-remote", "--profile"])
                .arg(profile)
                .arg(url)
                .env("MOZ_CRASHREPORTER_DISABLE", "1");
        }
        other => bail!("{other:?} is not a browser"),
    }
    Ok(cmd)
}

/// The page's report `{stdout, stderr, exit, error}` as a [`GuestRun`].
fn report(body: &str) -> Result<GuestRun> {
    let v: serde_json::Value =
        serde_json::from_str(body).context("the page's report is not JSON")?;
    let bytes = |key: &str| -> Result<Vec<u8>> {
        v[key]
            .as_array()
            .context("the page's report lacks output")?
            .iter()
            .map(|b| {
                b.as_u64()
                    .and_then(|b| u8::try_from(b).ok())
                    .context("the page's report has a bad byte")
            })
            .collect()
    };
    let error = v["error"].as_str().map(str::to_string);
    let exit = v["exit"].as_i64().and_then(|c| i32::try_from(c).ok());
    Ok(GuestRun {
        stdout: bytes("stdout")?,
        stderr: bytes("stderr")?,
        exit: if error.is_some() { None } else { exit },
        error,
    })
}

/// Runs `job` on the module `wasm` in the browser `rt`.
pub fn run(rt: Runtime, wasm: &Path, job: &Job) -> Result<GuestRun> {
    let program = rt.program().context("browser not installed")?;
    let js = js_dir().context("the JavaScript packages are not installed")?;
    let site = Arc::new(Site {
        js,
        module: wasm.to_path_buf(),
        job: job.to_json(),
        served: Mutex::new(Vec::new()),
    });
    let (tx, rx) = mpsc::channel();
    let server = Served::start(site.clone(), tx)?;
    let result = drive(rt, &program, server.addr.port(), &rx, &site);
    server.stop();
    result
}

/// Starts the browser on the page and waits for its report, at most [`RUN_LIMIT`] (the bound of
/// every outside runtime: compiling CPython or CRuby included).
fn drive(
    rt: Runtime,
    program: &Path,
    port: u16,
    rx: &mpsc::Receiver<Result<String>>,
    site: &Site,
) -> Result<GuestRun> {
    let profile = tempfile::tempdir().context("temporary profile directory")?;
    let url = format!("http://127.0.0.1:{port}/");
    let start = Instant::now();
    let mut browser = Bounded::spawn(&mut browser_command(rt, program, profile.path(), &url)?)?;
    let body = loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(body) => break body?,
            Err(mpsc::RecvTimeoutError::Disconnected) => bail!("the test server stopped"),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if browser.exited() || start.elapsed() >= RUN_LIMIT {
            let f = browser.wait(start, Duration::ZERO)?;
            let tail: Vec<&str> = std::str::from_utf8(&f.stderr)
                .unwrap_or("")
                .lines()
                .rev()
                .take(5)
                .collect();
            let what = if f.timed_out {
                format!("timed out after {} s", RUN_LIMIT.as_secs())
            } else {
                format!("the browser exited ({:?})", f.code)
            };
            return Ok(GuestRun {
                error: Some(format!(
                    "{what}: the page never reported; requests answered: {}",
                    site.served()
                )),
                stderr: tail.join("\n").into_bytes(),
                ..GuestRun::default()
            });
        }
    };
    drop(browser);
    report(&body)
}
