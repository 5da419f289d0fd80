use wasivfs_e2e::run::{execute, Run};
use wasivfs_e2e::{fixtures, suites, trees};
#[test]
fn timing() {
    let t0 = std::time::Instant::now();
    let t = trees::big().unwrap();
    eprintln!("gen {:?}", t0.elapsed());
    for ops in [&["cat", "huge.bin"][..], &["dirsum", "wide"][..]] {
        let t0 = std::time::Instant::now();
        let _ = execute(&fixtures::fsops(), &Run::args(&suites::argv("fsops", "/src", ops)).dir(t.path(), "/src")).unwrap();
        eprintln!("{ops:?} {:?}", t0.elapsed());
    }
    let t0 = std::time::Instant::now();
    let huge = std::fs::read(t.join("huge.bin")).unwrap();
    let h = huge.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    eprintln!("fnv {h} {:?}", t0.elapsed());
}
