//! Running a module in a real headless browser.
//!
//! A small HTTP server on 127.0.0.1 (an ephemeral port) serves `fixtures/runtimes/page.html`, its
//! script, the JavaScript packages of [`crate::runtimes::js_dir`], the module and the job; the
//! page runs the module with `@bjorn3/browser_wasi_shim` (CRuby through ruby.wasm's browser entry
//! point) and posts the program's output back. The browser gets a fresh profile, and it and the
//! server stop as soon as the result is in, or at the time limit.

use crate::process::Bounded;
use crate::runtimes::{fixture, js_dir, GuestRun, Runtime};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tiny_http::{Header, Method, Request, Response, Server};

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

/// What the server serves for one run.
struct Site {
    js: PathBuf,
    module: PathBuf,
    job: String,
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

    fn respond(&self, mut req: Request, results: &mpsc::Sender<Result<String>>) {
        let header = |v: &str| Header::from_bytes("Content-Type", v).ok();
        let (method, url) = (req.method().clone(), req.url().to_string());
        let reply = match (&method, url.as_str()) {
            (Method::Post, "/result") => {
                let mut body = String::new();
                let got = req
                    .as_reader()
                    .read_to_string(&mut body)
                    .map(|_| body)
                    .context("reading the page's result");
                let _ = results.send(got);
                Response::from_string("ok").boxed()
            }
            (Method::Get, "/job.json") => {
                let mut r = Response::from_string(self.job.clone());
                if let Some(h) = header("application/json") {
                    r.add_header(h);
                }
                r.boxed()
            }
            (Method::Get, url) => match self.file(url).and_then(|p| {
                let bytes = std::fs::read(&p).ok()?;
                Some((p, bytes))
            }) {
                Some((p, bytes)) => {
                    let mut r = Response::from_data(bytes);
                    if let Some(h) = header(content_type(&p)) {
                        r.add_header(h);
                    }
                    r.boxed()
                }
                None => Response::from_string("not found")
                    .with_status_code(404)
                    .boxed(),
            },
            _ => Response::from_string("bad request")
                .with_status_code(400)
                .boxed(),
        };
        // The page may be gone already (the browser is killed once the result is in).
        let _ = req.respond(reply);
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
            .arg(url);
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
    let server = Server::http("127.0.0.1:0").map_err(|e| anyhow!("starting the server: {e}"))?;
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .context("the server has no IP address")?;
    let site = Site {
        js,
        module: wasm.to_path_buf(),
        job: job.to_json(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let serving = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(50)) {
                    site.respond(req, &tx);
                }
            }
        })
    };
    // Now and then (under heavy load) a headless Chromium never runs the page at all; that is no
    // result, so the page gets a second browser before the run counts as timed out.
    let mut result = drive(rt, &program, port, &rx);
    if matches!(&result, Ok(r) if r.error.as_deref() == Some(NEVER_REPORTED)) {
        eprintln!("{rt:?}: the page never reported; trying once more with a fresh browser");
        result = drive(rt, &program, port, &rx);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = serving.join();
    result
}

/// How long one browser may take to report.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(150);

/// The error of a browser whose page never reported within [`ATTEMPT_LIMIT`].
const NEVER_REPORTED: &str = "timed out: the page never reported";

/// Starts the browser on the page and waits for its report.
fn drive(
    rt: Runtime,
    program: &Path,
    port: u16,
    rx: &mpsc::Receiver<Result<String>>,
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
        if browser.exited() || start.elapsed() >= ATTEMPT_LIMIT {
            let f = browser.wait(start, Duration::ZERO)?;
            let tail: Vec<&str> = std::str::from_utf8(&f.stderr)
                .unwrap_or("")
                .lines()
                .rev()
                .take(5)
                .collect();
            return Ok(GuestRun {
                error: Some(if f.timed_out {
                    NEVER_REPORTED.to_string()
                } else {
                    format!("the browser exited ({:?}) before the page reported", f.code)
                }),
                stderr: tail.join("\n").into_bytes(),
                ..GuestRun::default()
            });
        }
    };
    drop(browser);
    report(&body)
}
