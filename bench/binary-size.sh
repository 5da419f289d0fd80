#!/usr/bin/env bash
# What the release profile's settings do to the `wasivfs` binary (printed, never asserted): for
# each variant, built with `cargo build --release` and the variant's profile overrides into a
# target directory of its own, the build time, the binary's size, its size deflated at level 9
# (what a wheel or an npm tarball holds), the median time to pack CPython 3.12 with the README's
# app, the median time of `wasivfs run` on that module from a cold compile cache (Cranelift is
# part of the binary), and the size of `wasivfs exe`'s output. The plain release build is the
# reference, measured in the same run. Each variant is a full release build (several minutes).
# Usage: bench/binary-size.sh [VARIANT...]   (default: every variant below)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
PY="${WASIVFS_CACHE:-$HOME/.cache/wasivfs}/python-3.12.0.wasm"
APP=fixtures/python-app
[ -f "$PY" ] || { echo "error: $PY is missing; run .ci/setup" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# name -> profile overrides (cargo --config settings)
declare -A VARIANTS=(
  [release]=""
  [strip]="profile.release.strip=true"
  [strip-thin]="profile.release.strip=true profile.release.lto=\"thin\""
  [strip-fat-cgu1]="profile.release.strip=true profile.release.lto=\"fat\" profile.release.codegen-units=1"
  [strip-fat-cgu1-abort]="profile.release.strip=true profile.release.lto=\"fat\" profile.release.codegen-units=1 profile.release.panic=\"abort\""
)
ORDER=(release strip strip-thin strip-fat-cgu1 strip-fat-cgu1-abort)
[ "$#" -gt 0 ] && ORDER=("$@")

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }

printf '%-22s %8s %10s %10s %9s %9s %10s\n' variant build_s size_MB deflate_MB pack_s run_s exe_MB
for v in "${ORDER[@]}"; do
  [ -n "${VARIANTS[$v]+x}" ] || { echo "error: unknown variant $v" >&2; exit 1; }
  dir="$TARGET/size-$v"
  args=()
  for c in ${VARIANTS[$v]}; do args+=(--config "$c"); done
  start=$(date +%s)
  CARGO_INCREMENTAL=0 cargo build -q --release -p wasivfs --target-dir "$dir" "${args[@]}"
  build=$(( $(date +%s) - start ))
  bin="$dir/release/wasivfs"
  size=$(stat -c %s "$bin")
  deflated=$(gzip -9 -c "$bin" | wc -c)
  pack=$(for i in 1 2 3 4 5; do secs "$bin" pack -q "$PY" --mapdir /app::$APP -o "$WORK/app.wasm" -- /app/main.py; done | median)
  run=$(for i in 1 2 3; do rm -rf "$WORK/cache"; WASIVFS_CACHE="$WORK/cache" secs "$bin" run "$WORK/app.wasm"; done | median)
  WASIVFS_CACHE="$WORK/cache" "$bin" exe -q "$WORK/app.wasm" -o "$WORK/app-exe"
  exe=$(stat -c %s "$WORK/app-exe")
  printf '%-22s %8s %10.1f %10.1f %9.3f %9.2f %10.1f\n' "$v" "$build" \
    "$(echo "$size / 1000000" | bc -l)" "$(echo "$deflated / 1000000" | bc -l)" "$pack" "$run" \
    "$(echo "$exe / 1000000" | bc -l)"
done
