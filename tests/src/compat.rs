//! The tables of `docs/compatibility.md` that the test run writes ([`RUNTIMES`] and
//! [`NATIVE_COMPONENTS`]), checked against (or rewritten from) the run.
//!
//! Each table sits between its two marker lines. Each row ends with the name of the test that
//! produces it; that test renders the row from what it saw and requires the document to say
//! exactly that. With `WASIVFS_UPDATE_COMPAT=1` the test writes its row instead.

use crate::runtimes::GuestRun;
use std::path::PathBuf;
use std::sync::Mutex;

/// A table of the document: its marker lines and its header.
pub struct Table {
    /// The line before the table.
    pub begin: &'static str,
    /// The line after the table.
    pub end: &'static str,
    /// The table's header lines.
    pub header: &'static str,
}

/// The runtimes and the three programs (preview 1 modules and adapted components).
pub const RUNTIMES: Table = Table {
    begin: "<!-- runtime table: written by tests/tests/runtimes.rs -->",
    end: "<!-- end of runtime table -->",
    header: "| runtime | C probe (`fsops`) | CPython 3.12 app | CRuby 3.4 app | test |\n|---|---|---|---|---|",
};

/// Native WASI 0.2 components (the Rust probe built for `wasm32-wasip2`) on the runtimes that
/// run components.
pub const NATIVE_COMPONENTS: Table = Table {
    begin: "<!-- native component table: written by tests/tests/components/native.rs -->",
    end: "<!-- end of native component table -->",
    header: "| runtime | Rust `std::fs` probe | raw `wasi:filesystem` calls | entry point baked | raw calls, `--writable` | test |\n|---|---|---|---|---|---|",
};

/// `docs/compatibility.md`.
pub fn doc_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/compatibility.md"
    ))
}

/// The longest error text kept in a cell.
const MAX_ERROR: usize = 220;

/// Removes V8's byte offsets (` @+1234`): they move whenever the packed layout changes.
fn drop_offsets(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(" @+") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            out.push_str(" @+");
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// One cell: how a run compares with the host-mapped oracle (`expected_stdout`,
/// `expected_exit`). `detail` is added to a match (e.g. the number of lines compared); every
/// string of `scrub` (temporary paths) is removed from error texts.
pub fn cell(
    run: &GuestRun,
    expected_stdout: &[u8],
    expected_exit: i32,
    detail: &str,
    scrub: &[String],
) -> String {
    if let Some(e) = &run.error {
        let mut e = drop_offsets(e);
        for s in scrub.iter().filter(|s| !s.is_empty()) {
            e = e.replace(s.as_str(), "");
        }
        if e.chars().count() > MAX_ERROR {
            e = e.chars().take(MAX_ERROR).collect::<String>() + "…";
        }
        return format!("fails: {}", escape(&e));
    }
    let same_out = run.stdout == expected_stdout;
    let same_exit = run.exit == Some(expected_exit);
    match (same_out, same_exit) {
        (true, true) => format!("same as host-mapped{detail}"),
        (true, false) => format!(
            "same output, but exit code {:?} (host-mapped {expected_exit})",
            run.exit
        ),
        (false, _) => {
            let (a, b) = (
                String::from_utf8_lossy(expected_stdout),
                String::from_utf8_lossy(&run.stdout),
            );
            let line = a.lines().zip(b.lines()).take_while(|(x, y)| x == y).count() + 1;
            format!(
                "differs from host-mapped from stdout line {line} (exit code {:?})",
                run.exit
            )
        }
    }
}

/// Whether a cell records a match with the oracle.
pub fn is_same(cell: &str) -> bool {
    cell.starts_with("same as host-mapped")
}

/// A rendered row: `| runtime | cells... | `test` |`.
pub fn row(runtime: &str, cells: &[String], test: &str) -> String {
    let mut line = format!("| {}", escape(runtime));
    for c in cells {
        line.push_str(" | ");
        line.push_str(c);
    }
    line.push_str(&format!(" | `{test}` |"));
    line
}

static DOC_LOCK: Mutex<()> = Mutex::new(());

/// Requires the runtime table of `docs/compatibility.md` to hold `line` as the row of `test` (or
/// writes it there with `WASIVFS_UPDATE_COMPAT=1`). Returns a readable reason on a mismatch.
pub fn check_row(test: &str, line: &str) -> Result<(), String> {
    check_row_in(&RUNTIMES, test, line)
}

/// [`check_row`] in `table`.
pub fn check_row_in(table: &Table, test: &str, line: &str) -> Result<(), String> {
    let _guard = DOC_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let path = doc_path();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (begin, end) = (table.begin, table.end);
    let (Some(b), Some(e)) = (text.find(begin), text.find(end)) else {
        return Err(format!(
            "{}: no such table (the lines {begin} and {end})",
            path.display()
        ));
    };
    let table_start = b + begin.len();
    let header = table.header;
    let rows_text = &text[table_start..e];
    let key = format!(" | `{test}` |");
    let current = rows_text.lines().find(|l| l.ends_with(&key));
    if current == Some(line) {
        return Ok(());
    }
    let update = std::env::var("WASIVFS_UPDATE_COMPAT").is_ok_and(|v| v == "1");
    if !update {
        return Err(format!(
            "{}: the table does not match this run (WASIVFS_UPDATE_COMPAT=1 rewrites it)\n  \
             documented: {}\n  observed:   {line}",
            path.display(),
            current.unwrap_or("(no row)")
        ));
    }
    let mut rows: Vec<String> = rows_text
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| runtime |"))
        .map(str::to_string)
        .collect();
    match rows.iter_mut().find(|l| l.ends_with(&key)) {
        Some(r) => *r = line.to_string(),
        None => rows.push(line.to_string()),
    }
    let new_table = format!("\n{header}\n{}\n", rows.join("\n"));
    let new_text = format!("{}{new_table}{}", &text[..table_start], &text[e..]);
    std::fs::write(&path, new_text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn offsets_are_dropped() {
        assert_eq!(
            super::drop_offsets("a @+123: b @+x @+"),
            "a: b @+x @+".to_string()
        );
    }
}
