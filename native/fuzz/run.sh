#!/usr/bin/env bash
# Fuzzes the checkpoint readers with libFuzzer under AddressSanitizer + UBSan, one target at
# a time, then minimises what was found into the corpus the test suite replays
# (tests/data/fuzz-corpus/<target>/, run by tests/test_fuzz_corpus.cpp). Not part of the
# CMake build: it needs clang's -fsanitize=fuzzer.
#
#   native/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (targets: safetensors torch_zip)
#
# Crashes land in build/fuzz/artifacts/<target>/ and stop the script with the reproducer.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
native="$(dirname "$here")"
root="$(dirname "$native")"
secs="${1:-240}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(safetensors torch_zip)
out="$root/build/fuzz"
CXX="${CXX:-clang++}"
mkdir -p "$out"

srcs=("$native/src/io/safetensors.cpp" "$native/src/io/json.cpp" "$native/src/io/zip.cpp"
      "$native/src/io/pickle.cpp" "$native/src/io/load_checkpoint.cpp" "$native/src/core/dtype.cpp")

for t in "${targets[@]}"; do
  bin="$out/fuzz_$t"
  echo "== building $bin"
  "$CXX" -std=c++17 -O1 -g -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$native/src" -I"$here" "$here/fuzz_$t.cpp" "${srcs[@]}" -o "$bin"

  keep="$native/tests/data/fuzz-corpus/$t"   # committed, minimised
  work="$out/corpus/$t"                       # grows while fuzzing
  art="$out/artifacts/$t/"
  mkdir -p "$keep" "$work" "$art"
  cp -n "$keep"/* "$work"/ 2>/dev/null || true
  # Seeds: the torch fixtures (small ones) and real safetensors files.
  if [ "$t" = torch_zip ]; then
    find "$native/tests/data/torch" -type f -size -8k -exec cp -n {} "$work"/ \;
    max_len=16384
  else
    golden="$root/../shared/golden/dpm-solver.safetensors"
    [ -f "$golden" ] && cp -n "$golden" "$work"/seed_dpm_solver.safetensors
    python3 - "$work" <<'PY' || true
import json, struct, sys
def st(header, data):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data
d = sys.argv[1]
open(d + "/seed_two.safetensors", "wb").write(st(
    {"__metadata__": {"format": "pt"}, "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
     "b": {"dtype": "BF16", "shape": [3], "data_offsets": [16, 22]}}, bytes(range(22))))
open(d + "/seed_empty.safetensors", "wb").write(st({}, b""))
open(d + "/seed_scalar.safetensors", "wb").write(st({"s": {"dtype": "I64", "shape": [], "data_offsets": [0, 8]}}, bytes(8)))
PY
    max_len=8192
  fi

  echo "== fuzzing $t for ${secs}s"
  start=$(date +%s)
  status=0
  if [ "$secs" -gt 0 ]; then  # 0: only re-minimise the corpus
    set +e
    "$bin" -max_total_time="$secs" -max_len="$max_len" -rss_limit_mb=2048 -timeout=10 -shrink=1 \
      -dict="$here/$t.dict" -artifact_prefix="$art" -print_final_stats=1 "$work" > "$out/fuzz_$t.log" 2>&1
    status=$?
    set -e
    grep -E "ERROR|stat::|Done" "$out/fuzz_$t.log" || true
  fi
  echo "== $t: $(( $(date +%s) - start ))s, exit $status"
  if [ "$status" -ne 0 ]; then
    echo "fuzzer failed; reproducer(s):"; ls "$art"; tail -60 "$out/fuzz_$t.log"; exit 1
  fi

  # Minimise: keep only inputs that add coverage, and only small ones.
  fresh="$out/merged/$t"
  rm -rf "$fresh"; mkdir -p "$fresh"
  "$bin" -merge=1 -max_len="$max_len" "$fresh" "$keep" "$work" > "$out/merge_$t.log" 2>&1
  # The suite replays this corpus on every run: keep it under ~2 MB and 400 files. Inputs
  # are named by their SHA-1, so dropping the last names is a deterministic random sample
  # (dropping the largest first would lose every deep, whole-archive mutant). The full
  # working corpus stays in build/fuzz/corpus for the next run.
  while [ "$(du -sb "$fresh" | cut -f1)" -gt 2000000 ] || [ "$(ls "$fresh" | wc -l)" -gt 400 ]; do
    rm -f "$fresh/$(ls "$fresh" | tail -1)"
  done
  rm -f "$keep"/*
  cp "$fresh"/* "$keep"/
  echo "== $t corpus: $(ls "$keep" | wc -l) files, $(du -sh "$keep" | cut -f1)"
done
