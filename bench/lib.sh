# Shared by the benchmark scripts (sourced, not run): messages and the generated file tree.

die() { echo "error: $*" >&2; exit 1; }
note() { echo "-- $*" >&2; }

# The generated tree both benchmarks read: files and total bytes.
FILES=6000
TOTAL_BYTES=140000000

# bench_setup DEFAULT_RUNS [RUNS]: run from the repository root; sets ROOT, RUNS (the rounds
# asked for, checked) and BENCH (tools, the generated tree and scratch space).
bench_setup() {
  ROOT="$PWD"
  RUNS="${2:-$1}"
  [[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "error: RUNS must be a positive integer, got '$RUNS'" >&2; exit 2; }
  BENCH="${WASIVFS_BENCH_DIR:-$HOME/.cache/wasivfs/bench}"
  mkdir -p "$BENCH"
}

# bench_cli: sets WASIVFS to the CLI measured: $WASIVFS if set, else a release build made here.
bench_cli() {
  if [ -z "${WASIVFS:-}" ]; then
    note "building the release CLI"
    cargo build -q --release -p wasivfs
    WASIVFS="${CARGO_TARGET_DIR:-$ROOT/target}/release/wasivfs"
  fi
  [ -x "$WASIVFS" ] || die "$WASIVFS is not executable"
}

# bench_tree DIR FILES TOTAL_BYTES: sets TREE to DIR/tree-FILES-TOTAL_BYTES, generating it once:
# FILES files of TOTAL_BYTES in all, deterministic contents, laid out like a standard library.
bench_tree() {
  TREE="$1/tree-$2-$3"
  if [ ! -f "$TREE.complete" ]; then
    note "generating the $2-file tree in $TREE"
    rm -rf "$TREE"
    python3 - "$TREE" "$2" "$3" <<'PY'
import os, random, sys
root, files, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per = max(total // files, 1)
for i in range(files):
    # About 30 files per directory, 20 directories per package (like a standard library).
    d = os.path.join(root, f"pkg{i // 600:02d}", f"mod{(i // 30) % 20:02d}")
    os.makedirs(d, exist_ok=True)
    size = per // 2 + (i * 7919) % per  # 0.5x to 1.5x the mean
    with open(os.path.join(d, f"file{i:05d}.dat"), "wb") as f:
        f.write(random.Random(i).randbytes(size))
open(root + ".complete", "w").close()
PY
  fi
}
