//! wasivfs benchmarks (placeholder until written).
fn main() {}
