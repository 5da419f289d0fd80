# Shared by the benchmark scripts (sourced, not run): messages and the generated file tree.

die() { echo "error: $*" >&2; exit 1; }
note() { echo "-- $*" >&2; }

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
