//! Baked arguments, variables and `--host-dirs deny` against the mock host.

use super::mock::{finish_in_segments, Mock};
use crate::Vfs;
use wasivfs_image::builder::ImageBuilder;
use wasivfs_image::config::{EnvInherit, HostDirs, ProgramConfig};
use wasivfs_image::Image;

fn image_with(p: &ProgramConfig) -> Vec<u8> {
    let mut b: ImageBuilder<Vec<u8>> = ImageBuilder::new();
    b.add_mount("/app", 1).unwrap();
    b.set_config(p);
    finish_in_segments(b).0
}

/// Asks `vfs` for a list the way wasi-libc does (sizes, then the strings at 1000/2000).
fn list(vfs: &mut Vfs, m: &mut Mock, env: bool) -> Vec<String> {
    let r = if env {
        vfs.environ_sizes_get(m, 100, 104)
    } else {
        vfs.args_sizes_get(m, 100, 104)
    };
    assert_eq!(r, 0);
    let (count, size) = (m.u32_at(100), m.u32_at(104));
    let r = if env {
        vfs.environ_get(m, 1000, 2000)
    } else {
        vfs.args_get(m, 1000, 2000)
    };
    assert_eq!(r, 0);
    let strings: Vec<String> = (0..count)
        .map(|i| {
            let at = m.u32_at(1000 + 4 * i) as usize;
            let end = at + m.mem[at..].iter().position(|b| *b == 0).unwrap();
            String::from_utf8(m.mem[at..end].to_vec()).unwrap()
        })
        .collect();
    let bytes: usize = strings.iter().map(|s| s.len() + 1).sum();
    assert_eq!(bytes as u32, size);
    strings
}

fn mock() -> Mock {
    let mut m = Mock::new(Some(&[(3, "/host")]));
    m.args = vec!["app.wasm", "--name", "x"];
    m.environ = vec!["HOME=/h", "A=runtime", "B="];
    // Bytes at address 0 that the VFS borrows must come back unchanged.
    m.put(0, b"application bytes at zero");
    m
}

#[test]
fn arguments_and_variables_compose_with_the_hosts() {
    let mut p = ProgramConfig {
        args: vec!["/app/main.py".into(), "".into()],
        ..ProgramConfig::default()
    };
    p.set_env("A", "baked");
    p.set_env("C", "ü");
    let img = image_with(&p);
    let mut vfs = Vfs::new(Some(Image::parse(&img).unwrap()));
    let mut m = mock();
    assert_eq!(
        list(&mut vfs, &mut m, false),
        ["app.wasm", "/app/main.py", "", "--name", "x"]
    );
    assert_eq!(
        list(&mut vfs, &mut m, true),
        ["HOME=/h", "A=runtime", "B=", "C=ü"]
    );
    assert_eq!(&m.mem[..25], b"application bytes at zero");
    // Composed once: asking again does not call the host again.
    let before = m.calls.len();
    list(&mut vfs, &mut m, false);
    assert_eq!(m.calls.len(), before);
}

#[test]
fn argv0_and_inherit_policies() {
    let mut p = ProgramConfig {
        argv0: Some("tool".into()),
        env_inherit: EnvInherit::Only(vec!["B".into(), "A".into()]),
        ..ProgramConfig::default()
    };
    p.set_env("A", "baked");
    p.set_env("HOME", "/baked");
    let img = image_with(&p);
    let mut vfs = Vfs::new(Some(Image::parse(&img).unwrap()));
    let mut m = mock();
    assert_eq!(list(&mut vfs, &mut m, false), ["tool", "--name", "x"]);
    assert_eq!(
        list(&mut vfs, &mut m, true),
        ["A=runtime", "B=", "HOME=/baked"]
    );
    p.env_inherit = EnvInherit::None;
    let img = image_with(&p);
    let mut vfs = Vfs::new(Some(Image::parse(&img).unwrap()));
    let mut m = mock();
    assert_eq!(list(&mut vfs, &mut m, true), ["A=baked", "HOME=/baked"]);
    assert!(m.calls_named("environ_get").is_empty());
}

#[test]
fn without_a_record_the_host_answers() {
    let img = image_with(&ProgramConfig::default());
    let mut vfs = Vfs::new(Some(Image::parse(&img).unwrap()));
    let mut m = mock();
    assert_eq!(vfs.args_get(&mut m, 1000, 2000), 0);
    assert_eq!(m.calls_named("args_get")[0].args, [1000, 2000]);
}

#[test]
fn denied_host_directories_are_not_in_the_table() {
    let p = ProgramConfig {
        host_dirs: HostDirs::Deny,
        ..ProgramConfig::default()
    };
    let img = image_with(&p);
    let mut vfs = Vfs::new(Some(Image::parse(&img).unwrap()));
    let mut m = mock();
    // fd 3 is the embedded mount, fd 4 does not exist: the host's fd 3 is unreachable.
    assert_eq!(vfs.fd_prestat_get(&mut m, 3, 200), 0);
    assert_eq!(m.u32_at(204), 4); // "/app"
    assert_eq!(vfs.fd_prestat_get(&mut m, 4, 200), 8);
    assert!(m.calls_named("fd_prestat_get").is_empty());
}

/// The same lists through the WASI 0.2 front-end (`get-arguments`, `get-environment`), as
/// (argument or `NAME=VALUE`) strings.
#[cfg(feature = "p2")]
fn p2_list(vfs: &mut Vfs, m: &mut Mock, env: bool) -> Vec<String> {
    const RET: u32 = 3000;
    let per = if env { 16 } else { 8 };
    if env {
        crate::p2::front::get_environment(vfs, m, RET as i32);
    } else {
        crate::p2::front::get_arguments(vfs, m, RET as i32);
    }
    let (list, n) = (m.u32_at(RET), m.u32_at(RET + 4));
    let string = |m: &Mock, at: u32| {
        let (p, len) = (m.u32_at(at) as usize, m.u32_at(at + 4) as usize);
        String::from_utf8(m.mem[p..p + len].to_vec()).unwrap()
    };
    (0..n)
        .map(|i| {
            let e = list + per * i;
            if env {
                format!("{}={}", string(m, e), string(m, e + 8))
            } else {
                string(m, e)
            }
        })
        .collect()
}

#[cfg(feature = "p2")]
#[test]
fn the_0_2_lists_compose_alike() {
    let mut p = ProgramConfig {
        args: vec!["/app/main.py".into(), "".into()],
        ..ProgramConfig::default()
    };
    p.set_env("A", "baked");
    p.set_env("C", "ü");
    p.set_env("EMPTY", "");
    let img = image_with(&p);
    let mut vfs = Vfs::new(Some(Image::parse(&img).unwrap()));
    let mut m = mock();
    let args = ["app.wasm", "/app/main.py", "", "--name", "x"];
    assert_eq!(p2_list(&mut vfs, &mut m, false), args);
    let env = ["HOME=/h", "A=runtime", "B=", "C=ü", "EMPTY="];
    assert_eq!(p2_list(&mut vfs, &mut m, true), env);
    // Composed once, and the same lists as preview 1 sees.
    let before = m.calls.len();
    assert_eq!(p2_list(&mut vfs, &mut m, false), args);
    assert_eq!(m.calls.len(), before);
    assert_eq!(list(&mut vfs, &mut m, true), env);

    // `--env-inherit none`: the host's variables are not asked for.
    p.env_inherit = EnvInherit::None;
    let img = image_with(&p);
    let mut vfs = Vfs::new(Some(Image::parse(&img).unwrap()));
    let mut m = mock();
    assert_eq!(
        p2_list(&mut vfs, &mut m, true),
        ["A=baked", "C=ü", "EMPTY="]
    );
    assert!(m.calls.iter().all(|c| c.name != "get-environment"));

    // No record: the host's answer, written where the application asked.
    let img = image_with(&ProgramConfig::default());
    let mut vfs = Vfs::new(Some(Image::parse(&img).unwrap()));
    let mut m = mock();
    crate::p2::front::get_arguments(&mut vfs, &mut m, 3000);
    let last = m.calls.last().unwrap();
    assert_eq!(
        (last.name, last.args.clone()),
        ("get-arguments", vec![3000])
    );
}
