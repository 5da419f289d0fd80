#!/usr/bin/env bash
# `--memory single` against `--memory multi`: the same inputs packed both ways, run with
# `wasivfs run` (the embedded wasmtime; its compilation cache warm and settled, so compilation is
# not measured and the module is mapped, not decompressed), medians over RUNS rounds that each
# run both modes one after the other, and the single/multi ratio. Printed, never asserted.
#
#   1. CPython 3.12 start-up: `python -c pass`, CPython packed with a one-file app.
#   2. The in-guest walk-and-read of the 6,000-file / 140 MB tree (`os.walk` + read of every
#      file; the tree of bench/startup.sh, generated here if missing).
#   3. A malloc-heavy C program: fixtures/c/growth.c (clang-14, wasi-libc) mallocs ROUNDS blocks
#      of 512 KiB, growing its memory at almost every block, and reads a small packed tree
#      after each; it prints how many times its memory grew (each is one `memory.grow` call of
#      dlmalloc; in a single-memory module each one also moves the VFS region up).
#
# Usage: bench/memory.sh [RUNS]        (RUNS defaults to 11)
# Environment:
#   WASIVFS=path/to/wasivfs        default: target/release/wasivfs, built here
#   WASIVFS_PYTHON=python.wasm      default: python-3.12.0.wasm under ~/.cache/wasivfs
#   WASIVFS_BENCH_DIR=dir           the generated tree and scratch space (~/.cache/wasivfs/bench)
#   ROUNDS=400                      blocks the C program allocates
# Needs: bash 5, python3, clang-14 with wasi-libc.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-400}"

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup 11 "${1:-}"

command -v clang-14 >/dev/null || die "clang-14 is missing: apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32"
bench_cli
if [ -z "${WASIVFS_PYTHON:-}" ]; then
  WASIVFS_PYTHON="$(find "$HOME/.cache/wasivfs" -path "$BENCH" -prune -o -name python-3.12.0.wasm -type f -print -quit 2>/dev/null)"
fi
[ -f "$WASIVFS_PYTHON" ] || die "python-3.12.0.wasm not found (run bash .ci/setup, or set WASIVFS_PYTHON)"

WORK="$(mktemp -d "$BENCH/memory.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export WASIVFS_CACHE="$WORK/cache"

bench_tree "$BENCH" "$FILES" "$TOTAL_BYTES"

APP="$WORK/app"
SMALL="$WORK/small"
mkdir -p "$APP" "$SMALL/sub"
echo 'print("hello from /app")' > "$APP/main.py"
echo 'hello, world' > "$SMALL/hello.txt"
echo 'bee' > "$SMALL/sub/b.txt"
clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -o "$WORK/growth.wasm" fixtures/c/growth.c

for mode in single multi; do
  note "packing --memory $mode"
  "$WASIVFS" pack -q --memory "$mode" "$WASIVFS_PYTHON" --mapdir "/app::$APP" -o "$WORK/py-$mode.wasm"
  "$WASIVFS" pack -q --memory "$mode" "$WASIVFS_PYTHON" --mapdir "/t::$TREE" --mapdir "/app::$APP" -o "$WORK/tree-$mode.wasm"
  "$WASIVFS" pack -q --memory "$mode" "$WORK/growth.wasm" --mapdir "/src::$SMALL" -o "$WORK/growth-$mode.wasm"
done

WALK_PY='import os; s = [len(open(os.path.join(r, f), "rb").read()) for r, _, fs in os.walk("/t") for f in fs]; print(len(s), sum(s))'
run() { local m="$1"; shift; "$WASIVFS" run "$m" -- "$@"; }
# The first runs compile and cache; 2 s later the cache entries are trusted by stamp (see
# docs/design.md, "The run cache").
walk_single="$(run "$WORK/tree-single.wasm" -c "$WALK_PY")"
walk_multi="$(run "$WORK/tree-multi.wasm" -c "$WALK_PY")"
[ "$walk_single" = "$walk_multi" ] || die "walk: single saw '$walk_single', multi saw '$walk_multi'"
grow_single="$(run "$WORK/growth-single.wasm" /src hello.txt "$ROUNDS" 512 | tail -2)"
grow_multi="$(run "$WORK/growth-multi.wasm" /src hello.txt "$ROUNDS" 512 | tail -2)"
[ "$grow_single" = "$grow_multi" ] || die "growth: single printed '$grow_single', multi '$grow_multi'"
run "$WORK/py-single.wasm" -c pass >/dev/null
run "$WORK/py-multi.wasm" -c pass >/dev/null
sleep 2
GROWS="$(echo "$grow_single" | sed -n 's/^memory grew \([0-9]*\) times$/\1/p')"

RES="$WORK/results"
mkdir -p "$RES"
median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# measure NAME ARGS...: one warm-up run of each mode, then RUNS rounds that each run the single
# module and then the multi one (so that a change of load on a shared machine hits both alike);
# wall seconds of each run in $RES/NAME-MODE, the median in $RES/NAME-MODE.median.
measure() {
  local name="$1"; shift
  local mode i t0 t1
  for mode in single multi; do
    : > "$RES/$name-$mode"
    run "$WORK/$name-$mode.wasm" "$@" >/dev/null || die "$name-$mode: run failed"
  done
  for ((i = 0; i < RUNS; i++)); do
    for mode in single multi; do
      t0=$EPOCHREALTIME
      run "$WORK/$name-$mode.wasm" "$@" >/dev/null || die "$name-$mode: run failed"
      t1=$EPOCHREALTIME
      awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f\n", b - a}' >> "$RES/$name-$mode"
    done
  done
  for mode in single multi; do median < "$RES/$name-$mode" > "$RES/$name-$mode.median"; done
}
note "measuring CPython start-up ($RUNS rounds)"
measure py -c pass
note "measuring the walk ($RUNS rounds)"
measure tree -c "$WALK_PY"
note "measuring the growth program ($RUNS rounds)"
measure growth /src hello.txt "$ROUNDS" 512

ms() { awk -v s="$1" 'BEGIN {printf "%.1f ms", s * 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b / a}'; }
echo "$("$WASIVFS" --version), wasivfs run; runs: $RUNS (medians); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "walk sees: $walk_single (files, bytes); growth program: $GROWS memory.grow calls over $ROUNDS blocks of 512 KiB"
printf '| %-52s | %12s | %12s | %13s |\n' "what" "multi" "single" "single/multi"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..54})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..14})" "$(printf -- '-%.0s' {1..15})"
row() {
  local what="$1" name="$2" m s
  m="$(cat "$RES/$name-multi.median")"; s="$(cat "$RES/$name-single.median")"
  printf '| %-52s | %12s | %12s | %13s |\n' "$what" "$(ms "$m")" "$(ms "$s")" "$(ratio "$m" "$s")"
}
row "CPython start-up (python -c pass)" py
row "walk and read 6,000 files / 140 MB in the guest" tree
row "malloc-heavy C program ($GROWS memory.grow calls)" growth
