#!/usr/bin/env bash
# Figures for `wasivfs exe`, per target (printed, never asserted):
#   1. size of a hello-world executable (and of the bare runner);
#   2. start-up wall time of that executable, for the targets this machine runs natively, vs
#      `wasivfs run` on the same module from a cold cache (`--no-cache`: it compiles on every
#      run) and with wasmtime's compilation cache warm;
#   3. recursive fib(N) (Rust, wasm32-wasip1) as an executable vs the same Rust program built
#      natively (glibc and musl).
# The executables are made by the release `wasivfs` binary, as a user would (`wasivfs exe
# [--target T]`); a target whose runner cannot be built here is left out, saying why.
# Needs hyperfine, cargo, python3 and the wasm32-wasip1 target. Usage: bench/exe.sh [N]
#   WASIVFS=path/to/wasivfs   (default: target/release/wasivfs, built first)
#   WASIVFS_CACHE=dir         (default: target/exe-cache, the tests' runner cache)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-40}"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export WASIVFS_CACHE="${WASIVFS_CACHE:-$TARGET/exe-cache}"
HOST_ARCH="$(uname -m)"

echo "== building (wasivfs, fixtures)" >&2
if [ -z "${WASIVFS:-}" ]; then
  cargo build -q --release -p wasivfs
  WASIVFS="$TARGET/release/wasivfs"
fi
FIX=fixtures/exe-guest/Cargo.toml
cargo build -q --release --target wasm32-wasip1 --manifest-path "$FIX" --target-dir "$TARGET/exe-fixtures"
cargo build -q --release --manifest-path "$FIX" --target-dir "$TARGET/exe-fixtures"
WASM="$TARGET/exe-fixtures/wasm32-wasip1/release"
NATIVE="$TARGET/exe-fixtures/release"
NATIVE_MUSL=""
if cargo build -q --release --target "$HOST_ARCH-unknown-linux-musl" --manifest-path "$FIX" \
    --target-dir "$TARGET/exe-fixtures" 2>/dev/null; then
  NATIVE_MUSL="$TARGET/exe-fixtures/$HOST_ARCH-unknown-linux-musl/release"
fi

# The targets: "default" (the built-in runner, CPU detected) and every --target that is ready.
targets=(default)
while read -r triple status; do
  case "$status" in
    ready*) targets+=("$triple") ;;
    *) echo "-- $triple left out: $status" >&2 ;;
  esac
done < <("$WASIVFS" exe --list-targets | tail -n +2)

native() {  # whether this machine runs executables of target $1 directly
  case "$1" in
    default|"$HOST_ARCH"-unknown-linux-*) return 0 ;;
    *) return 1 ;;
  esac
}

echo "== size (hello world, wasm $(stat -c %s "$WASM/hello.wasm") bytes)"
for t in "${targets[@]}"; do
  args=(); [ "$t" = default ] || args=(--target "$t")
  "$WASIVFS" exe "${args[@]}" "$WASM/hello.wasm" -o "$WORK/hello-$t"
  "$WASIVFS" exe "${args[@]}" "$WASM/fib.wasm" -o "$WORK/fib-$t"
  out="$WORK/hello-$t"; [ -f "$out" ] || out="$out.exe"
  python3 - "$out" "$t" <<'PY'
import struct, sys
path, t = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
payload_offset = struct.unpack_from("<Q", data, len(data) - 64 + 16)[0]
print(f"{t:28s} executable {len(data)/1e6:6.2f} MB (runner {payload_offset/1e6:.2f} MB incl. padding)")
PY
done

echo "== start-up (hello world, native targets), median"
cmds=()
for t in "${targets[@]}"; do
  native "$t" && cmds+=(-n "exe $t" "$WORK/hello-$t")
done
hyperfine -N --warmup 3 --export-json "$WORK/start.json" "${cmds[@]}" \
  -n "wasivfs run --no-cache" "$WASIVFS run --no-cache $WASM/hello.wasm" \
  -n "wasivfs run, warm cache" "$WASIVFS run $WASM/hello.wasm" >/dev/null
python3 - "$WORK/start.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
cold, warm = r[-2]["median"], r[-1]["median"]
for x in r[:-2]:
    m = x["median"]
    print(f"{x['command']:36s} {m*1e3:6.2f} ms  (wasivfs run: cold cache {cold*1e3:.1f} ms = {cold/m:.1f}x, warm {warm*1e3:.1f} ms = {warm/m:.1f}x)")
PY

echo "== fib($N): CPU time (user + system) over 15 rounds, every variant once per round"
# Round-robin rather than one command after the other, and CPU time rather than wall time, so
# that load from other processes that drifts during the run hits every variant alike.
fibs=()
for t in "${targets[@]}"; do
  native "$t" && fibs+=("exe $t=$WORK/fib-$t")
done
fibs+=("native Rust (glibc)=$NATIVE/fib")
[ -n "$NATIVE_MUSL" ] && fibs+=("native Rust (musl)=$NATIVE_MUSL/fib")
python3 - "$N" "${fibs[@]}" <<'PY'
import os, statistics, subprocess, sys
n, cmds = sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:])
times = {k: [] for k in cmds}
for _ in range(15):
    for name, exe in cmds.items():
        p = subprocess.Popen([exe, n], stdout=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        assert status == 0, (name, status)
        times[name].append(ru.ru_utime + ru.ru_stime)
med = {k: statistics.median(v) for k, v in times.items()}
low = {k: min(v) for k, v in times.items()}
for name in cmds:
    line = f"{name:36s} median {med[name]:.3f} s, min {low[name]:.3f} s"
    for base in ("native Rust (glibc)", "native Rust (musl)"):
        if base in med:
            line += f" | vs {base[13:-1]}: {med[name]/med[base]:.2f}x median, {low[name]/low[base]:.2f}x min"
    print(line)
PY
