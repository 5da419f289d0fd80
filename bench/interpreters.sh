#!/usr/bin/env bash
# Figures for real interpreters (printed, never asserted):
#   1. pack time for each interpreter (CPython, MicroPython, CRuby) with a small app;
#   2. CPython `-c pass` start-up, packed vs unpacked, through `wasivfs run` with its compilation
#      cache warm and with --no-cache (then compiling the 26 MB module dominates);
#   3. an app that imports 50 modules from /app, packed vs host-mapped: end to end, and the
#      time the guest itself spends importing (measured inside Python, median of the runs).
#      Python runs with -B so that the host-mapped side does not write and reuse .pyc files.
# Needs hyperfine. Usage: bench/interpreters.sh [RUNS]
#   WASIVFS_TEST_ARTIFACTS=dir  where the interpreter modules are (searched recursively)
#   WASIVFS=path/to/wasivfs     (default: target/release/wasivfs, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
ART="${WASIVFS_TEST_ARTIFACTS:?set WASIVFS_TEST_ARTIFACTS to the directory holding the interpreter modules}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

find_artifact() {
  local f
  f="$(find "$ART" -name "$1" -type f -print -quit)"
  if [ -z "$f" ]; then echo "error: $1 not found under $ART" >&2; exit 1; fi
  echo "$f"
}
PYTHON="$(find_artifact python-3.12.0.wasm)"
MICROPYTHON="$(find_artifact micropython-wasi.wasm)"
RUBY="$(find_artifact 'ruby+stdlib.wasm')"

if [ -z "${WASIVFS:-}" ]; then
  echo "== building the release CLI" >&2
  cargo build -q --release -p wasivfs
  WASIVFS="$TARGET/release/wasivfs"
fi

# The 50-module app: /app/main.py imports mods.m00 ... mods.m49 and reports the guest-side time.
APP="$WORK/app"
mkdir -p "$APP/mods"
: > "$APP/mods/__init__.py"
for i in $(seq -w 0 49); do
  {
    echo "\"\"\"Benchmark module $i.\"\"\""
    echo "VALUE = $((10#$i))"
    for j in $(seq 1 20); do echo "def f$j(x):"; echo "    return x + $j + VALUE"; done
  } > "$APP/mods/m$i.py"
done
cat > "$APP/main.py" <<'EOF'
import importlib
import sys
import time

t0 = time.perf_counter()
total = sum(importlib.import_module(f"mods.m{i:02d}").VALUE for i in range(50))
t1 = time.perf_counter()
assert total == sum(range(50)), total
if len(sys.argv) > 1:
    print(f"{(t1 - t0) * 1000:.2f}")
EOF
mkdir -p "$WORK/small"
echo 'print("hi")' > "$WORK/small/main.py"

summary() {
  python3 - "$1" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"  {r['command']:<40} median {r['median']:.3f} s  (min {r['min']:.3f}, max {r['max']:.3f})")
PY
}

echo "== pack time (small app into each interpreter; median of $RUNS)"
hyperfine -N --runs "$RUNS" --export-json "$WORK/pack.json" \
  -n "CPython $(stat -c %s "$PYTHON") B" "$WASIVFS pack $PYTHON --mapdir /app::$WORK/small -o $WORK/p1.wasm" \
  -n "CPython + 50-module app" "$WASIVFS pack $PYTHON --mapdir /app::$APP -o $WORK/p2.wasm" \
  -n "MicroPython $(stat -c %s "$MICROPYTHON") B" "$WASIVFS pack $MICROPYTHON --mapdir /app::$WORK/small -o $WORK/p3.wasm" \
  -n "CRuby $(stat -c %s "$RUBY") B" "$WASIVFS pack $RUBY --mapdir /src::$WORK/small -o $WORK/p4.wasm" \
  >/dev/null
summary "$WORK/pack.json"

"$WASIVFS" pack "$PYTHON" --mapdir "/app::$APP" -o "$WORK/py-app.wasm" >/dev/null

echo "== CPython via wasivfs run, compiled code cached (1 warm-up; median of $RUNS)"
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$WORK/run.json" \
  -n "start-up (-c pass), unpacked" "$WASIVFS run $PYTHON -- -c pass" \
  -n "start-up (-c pass), packed" "$WASIVFS run $WORK/py-app.wasm -- -c pass" \
  -n "50 imports, host-mapped /app" "$WASIVFS run $PYTHON --dir $APP::/app -- -B /app/main.py" \
  -n "50 imports, packed /app" "$WASIVFS run $WORK/py-app.wasm -- -B /app/main.py" \
  >/dev/null
summary "$WORK/run.json"

echo "== CPython start-up via wasivfs run --no-cache (compiles on every run; median of $RUNS)"
hyperfine -N --runs "$RUNS" --export-json "$WORK/cold.json" \
  -n "start-up (-c pass), unpacked, no cache" "$WASIVFS run --no-cache $PYTHON -- -c pass" \
  -n "start-up (-c pass), packed, no cache" "$WASIVFS run --no-cache $WORK/py-app.wasm -- -c pass" \
  >/dev/null
summary "$WORK/cold.json"

echo "== guest-side time to import the 50 modules (measured inside Python; median of $RUNS)"
guest_median() {
  local out=()
  for _ in $(seq "$RUNS"); do out+=("$("$@")"); done
  printf '%s\n' "${out[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
printf '  host-mapped /app: %s ms\n' "$(guest_median "$WASIVFS" run --dir "$APP::/app" "$PYTHON" -- -B /app/main.py report)"
printf '  packed /app:      %s ms\n' "$(guest_median "$WASIVFS" run "$WORK/py-app.wasm" -- -B /app/main.py report)"
