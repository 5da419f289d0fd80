fn main() {
    let a: Vec<String> = std::env::args().collect();
    let raw = std::fs::read(&a[1]).unwrap();
    let t = std::time::Instant::now();
    let p = wasivfs_trampoline_gen::prepare_vfs(&raw).unwrap();
    println!("prepared {} -> {} bytes in {:?}", raw.len(), p.len(), t.elapsed());
    std::fs::write(&a[2], &p).unwrap();
}
