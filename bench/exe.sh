#!/usr/bin/env bash
# Figures for `wasivfs exe` (printed, never asserted):
#   1. size of a hello-world executable (and of the bare runner);
#   2. start-up wall time of that executable vs `wasivfs run` on the same
#      module from a cold cache (`--no-cache`: it compiles on every run), and
#      with wasmtime's compilation cache warm;
#   3. recursive fib(N) (Rust, wasm32-wasip1) as an executable vs the same
#      Rust program built natively.
# Needs hyperfine, cargo and the wasm32-wasip1 target. Usage: bench/exe.sh [N]
#   WASIVFS=path/to/wasivfs   (default: target/release/wasivfs, else target/debug/wasivfs)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-40}"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "== building (runner, fixtures, exe front end)" >&2
cargo build -q --release --manifest-path exe-runner/Cargo.toml --target-dir "$TARGET/exe-runner"
RUNNER="$TARGET/exe-runner/release/wasivfs-exe-runner"
FIX=exe/tests/fixtures/rust-guest/Cargo.toml
cargo build -q --release --target wasm32-wasip1 --manifest-path "$FIX" --target-dir "$TARGET/exe-fixtures"
cargo build -q --release --manifest-path "$FIX" --target-dir "$TARGET/exe-fixtures"
cargo build -q -p wasivfs-exe --example exe
MAKE_EXE="$TARGET/debug/examples/exe"
WASM="$TARGET/exe-fixtures/wasm32-wasip1/release"
NATIVE="$TARGET/exe-fixtures/release"
if [ -z "${WASIVFS:-}" ]; then
  if [ -x "$TARGET/release/wasivfs" ]; then WASIVFS="$TARGET/release/wasivfs"; else WASIVFS="$TARGET/debug/wasivfs"; fi
fi

"$MAKE_EXE" --runner "$RUNNER" "$WASM/hello.wasm" -o "$WORK/hello"
"$MAKE_EXE" --runner "$RUNNER" "$WASM/fib.wasm" -o "$WORK/fib"

echo "== size"
printf 'runner alone:          %8d bytes\n' "$(stat -c %s "$RUNNER")"
printf 'hello-world executable: %8d bytes (wasm %d bytes)\n' "$(stat -c %s "$WORK/hello")" "$(stat -c %s "$WASM/hello.wasm")"

echo "== start-up (hello world)"
hyperfine -N --warmup 3 --export-json "$WORK/start.json" \
  -n exe "$WORK/hello" \
  -n "wasivfs run --no-cache ($(basename "$(dirname "$WASIVFS")"))" "$WASIVFS run --no-cache $WASM/hello.wasm" \
  -n "wasivfs run, warm cache ($(basename "$(dirname "$WASIVFS")"))" "$WASIVFS run $WASM/hello.wasm"
python3 - "$WORK/start.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
m = [x["median"] for x in r]
print(f"median: exe {m[0]*1e3:.2f} ms, wasivfs run cold cache {m[1]*1e3:.2f} ms (speed-up {m[1]/m[0]:.1f}x), "
      f"warm cache {m[2]*1e3:.2f} ms (speed-up {m[2]/m[0]:.1f}x)")
PY

echo "== fib($N)"
hyperfine -N --warmup 1 --runs 5 --export-json "$WORK/fib.json" \
  -n exe "$WORK/fib $N" -n native "$NATIVE/fib $N"
python3 - "$WORK/fib.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
m = [x["median"] for x in r]
print(f"median: exe {m[0]:.3f} s, native {m[1]:.3f} s, ratio {m[0]/m[1]:.2f}x")
PY
