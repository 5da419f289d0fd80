//! Baked arguments, variables and policies (`pack -- ARG...`, `--argv0`, `--env`,
//! `--env-inherit`, `--host-dirs`): a program that prints its arguments, environment and
//! preopens (C on wasi-libc, Rust std for preview 1, and Rust std for WASI 0.2 as a native
//! component), packed with them, against the same program run unpacked with the composed
//! arguments and variables passed explicitly by the runtime.

use super::*;
use wasivfs_e2e::run::differential_layers;
use wasivfs_packer::{EnvInherit, HostDirs, ProgramConfig};

/// A context-printing probe: its name (argv\[0\] the runtime passes), bytes and the arguments
/// that must come first for it to print its context.
struct Probe {
    name: &'static str,
    module: Vec<u8>,
    prefix: &'static [&'static str],
}

fn probes() -> [Probe; 3] {
    [
        Probe {
            name: "context",
            module: fixtures::bytes(fixtures::CONTEXT),
            prefix: &[],
        },
        Probe {
            name: "rust-guest",
            module: fixtures::rust_guest(),
            prefix: &["/src", "context"],
        },
        Probe {
            name: "rust-guest-p2",
            module: fixtures::rust_guest_p2(),
            prefix: &["/src", "context"],
        },
    ]
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One case: the layers' settings (the probe's prefix is put before the first layer's
/// arguments), what the runtime passes, and what the program must see.
struct Case<'a> {
    what: &'a str,
    layers: Vec<ProgramConfig>,
    /// Runtime arguments after argv\[0\].
    runtime_args: Vec<String>,
    runtime_env: Vec<(String, String)>,
    /// A host directory the runtime preopens at `/data` on the packed side.
    host_dir: bool,
    /// argv\[0\] the program sees (`None`: the runtime's).
    argv0: Option<&'a str>,
    /// What follows argv\[0\] (after the probe's prefix).
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Whether the program sees `/data` (the oracle maps it too).
    sees_host_dir: bool,
}

fn check(c: Case) {
    let t = trees::standard().unwrap();
    let data = trees::standard().unwrap();
    let mounts = [map("/src", t.path())];
    for p in probes() {
        let what = format!("{} ({})", c.what, p.name);
        let mut layers = c.layers.clone();
        let prefix = strings(p.prefix);
        layers[0].args.splice(0..0, prefix.iter().cloned());
        let mut packed = Run::args(&[p.name]);
        packed.args.extend(c.runtime_args.iter().cloned());
        packed.env = c.runtime_env.clone();
        if c.host_dir {
            packed = packed.dir(data.path(), "/data");
        }
        let mut oracle = Run::args(&[c.argv0.unwrap_or(p.name)]);
        oracle.args.extend(prefix.iter().cloned());
        oracle.args.extend(c.args.iter().cloned());
        oracle.env = c.env.clone();
        if c.sees_host_dir {
            oracle = oracle.dir(data.path(), "/data");
        }
        oracle = oracle.dir(t.path(), "/src");
        let d = differential_layers(&p.module, &mounts, &layers, &oracle, &packed)
            .unwrap_or_else(|e| panic!("{what}: {e:#}"));
        d.assert_same(&what);
        let out = stdout(&d.packed);
        assert_eq!(d.oracle.exit_code, 0, "{what}: {out}");
        for a in &c.args {
            assert!(
                out.contains(&format!("{a:?}")),
                "{what}: {a:?} missing:\n{out}"
            );
        }
    }
}

/// The baked settings most cases share: arguments with an empty and a non-ASCII one, and
/// variables with an empty and a non-ASCII value.
fn baked() -> ProgramConfig {
    let mut p = ProgramConfig {
        args: strings(&["open", "/src/hello.txt", "", "grüße ✓"]),
        ..ProgramConfig::default()
    };
    p.set_env("A", "baked");
    p.set_env("EMPTY", "");
    p.set_env("NON_ASCII", "ünï ✓");
    p
}

fn runtime_env() -> Vec<(String, String)> {
    vars(&[("HOME", "/home/x"), ("A", "runtime"), ("LANG", "C")])
}

#[test]
fn runtime_arguments_follow_the_baked_ones_and_runtime_variables_win() {
    check(Case {
        what: "baked arguments and variables",
        layers: vec![baked()],
        runtime_args: strings(&["--name", "x", "", "ü"]),
        runtime_env: runtime_env(),
        host_dir: false,
        argv0: None,
        args: strings(&[
            "open",
            "/src/hello.txt",
            "",
            "grüße ✓",
            "--name",
            "x",
            "",
            "ü",
        ]),
        env: vars(&[
            ("HOME", "/home/x"),
            ("A", "runtime"),
            ("LANG", "C"),
            ("EMPTY", ""),
            ("NON_ASCII", "ünï ✓"),
        ]),
        sees_host_dir: false,
    });
}

#[test]
fn argv0_and_no_inherited_variables() {
    check(Case {
        what: "--argv0 and --env-inherit none",
        layers: vec![ProgramConfig {
            argv0: Some("my-äpp".into()),
            env_inherit: EnvInherit::None,
            ..baked()
        }],
        runtime_args: Vec::new(),
        runtime_env: runtime_env(),
        host_dir: false,
        argv0: Some("my-äpp"),
        args: strings(&["open", "/src/hello.txt", "", "grüße ✓"]),
        env: vars(&[("A", "baked"), ("EMPTY", ""), ("NON_ASCII", "ünï ✓")]),
        sees_host_dir: false,
    });
}

#[test]
fn only_listed_variables_are_inherited() {
    check(Case {
        what: "--env-inherit HOME,A,MISSING",
        layers: vec![ProgramConfig {
            env_inherit: EnvInherit::Only(strings(&["HOME", "A", "MISSING"])),
            ..baked()
        }],
        runtime_args: strings(&["r"]),
        runtime_env: runtime_env(),
        host_dir: false,
        argv0: None,
        args: strings(&["open", "/src/hello.txt", "", "grüße ✓", "r"]),
        env: vars(&[
            ("HOME", "/home/x"),
            ("A", "runtime"),
            ("EMPTY", ""),
            ("NON_ASCII", "ünï ✓"),
        ]),
        sees_host_dir: false,
    });
}

/// `--host-dirs deny`: a directory the runtime preopens is neither listed nor reachable, by
/// path or by its descriptor number (fd 4 would be the second preopen), exactly as when the
/// runtime does not preopen it; the embedded mount keeps working at fd 3.
#[test]
fn denied_host_directories_look_absent() {
    let ops = strings(&[
        "open",
        "/data/hello.txt",
        "rawopen",
        "3",
        "hello.txt",
        "rawopen",
        "4",
        "hello.txt",
        "open",
        "/src/hello.txt",
    ]);
    check(Case {
        what: "--host-dirs deny",
        layers: vec![ProgramConfig {
            args: ops.clone(),
            host_dirs: HostDirs::Deny,
            ..ProgramConfig::default()
        }],
        runtime_args: Vec::new(),
        runtime_env: Vec::new(),
        host_dir: true,
        argv0: None,
        args: ops.clone(),
        env: Vec::new(),
        sees_host_dir: false,
    });
    // The same with `allow` (the default): the runtime's directory is there, before the
    // embedded mount.
    check(Case {
        what: "--host-dirs allow",
        layers: vec![ProgramConfig {
            args: ops.clone(),
            ..ProgramConfig::default()
        }],
        runtime_args: Vec::new(),
        runtime_env: Vec::new(),
        host_dir: true,
        argv0: None,
        args: ops,
        env: Vec::new(),
        sees_host_dir: true,
    });
}

#[test]
fn many_arguments_and_variables() {
    let baked_args: Vec<String> = (0..2000).map(|i| format!("baked-{i}-ü")).collect();
    let runtime_args: Vec<String> = (0..500).map(|i| format!("rt-{i}")).collect();
    let mut p = ProgramConfig {
        args: baked_args.clone(),
        ..ProgramConfig::default()
    };
    let mut env = Vec::new();
    for i in 0..300 {
        p.set_env(&format!("V{i}"), &"x".repeat(i));
        env.push((format!("V{i}"), "x".repeat(i)));
    }
    check(Case {
        what: "many arguments",
        layers: vec![p],
        runtime_args: runtime_args.clone(),
        runtime_env: Vec::new(),
        host_dir: false,
        argv0: None,
        args: baked_args.into_iter().chain(runtime_args).collect(),
        env,
        sees_host_dir: false,
    });
}

/// Two layers: the second layer's arguments follow the first's, its variables win over the
/// first's, and the runtime's over both.
#[test]
fn two_layers_compose() {
    let mut first = ProgramConfig {
        args: strings(&["first-1", "first-2"]),
        ..ProgramConfig::default()
    };
    first.set_env("X", "1");
    first.set_env("Y", "1");
    let mut second = ProgramConfig {
        args: strings(&["second"]),
        ..ProgramConfig::default()
    };
    second.set_env("Y", "2");
    second.set_env("Z", "2");
    check(Case {
        what: "two layers",
        layers: vec![first, second],
        runtime_args: strings(&["rt"]),
        runtime_env: vars(&[("Z", "runtime")]),
        host_dir: false,
        argv0: None,
        args: strings(&["first-1", "first-2", "second", "rt"]),
        env: vars(&[("Z", "runtime"), ("Y", "2"), ("X", "1")]),
        sees_host_dir: false,
    });
}
