#!/usr/bin/env bash
# Prepares .cuda-kit/ in the repository root on THIS machine (Debian, no GPU), for the lent GPU
# machine, which has CUDA, cmake, ninja and g++ but neither the engine's two system libraries
# (OpenBLAS with cblas.h, nlohmann/json headers) nor ../shared/golden (only the repository
# travels). The kit holds:
#   golden/                 a copy of ../shared/golden (13 MB)
#   include/                nlohmann/ and OpenBLAS's cblas.h + openblas_config.h
#   lib.tar.xz              libopenblas.so.0, libgfortran.so.5, libquadmath.so.0 (5 MB)
# and is ignored by git (.git/info/exclude), so the `run` tool sends it only when named:
#   carry: [".cuda-kit"]    then: native/bench/cuda/run_on_device.sh
# Usage: native/bench/cuda/make_kit.sh   (about 30 s, most of it xz)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
kit="$root/.cuda-kit"
golden=${DIMBA_GOLDEN_DIR:-$root/../shared/golden}
blas_dir=/usr/lib/x86_64-linux-gnu/openblas-pthread
blas_inc=/usr/include/x86_64-linux-gnu/openblas-pthread
for f in "$golden/dimba-tiny.json" /usr/include/nlohmann/json.hpp "$blas_inc/cblas.h" "$blas_dir/libopenblas.so.0" \
         /lib/x86_64-linux-gnu/libgfortran.so.5 /lib/x86_64-linux-gnu/libquadmath.so.0; do
  [ -e "$f" ] || { echo "make_kit: missing $f (apt: libopenblas-dev nlohmann-json3-dev)" >&2; exit 1; }
done
rm -rf "$kit"
mkdir -p "$kit/include" "$kit/libs"
cp -r "$golden" "$kit/golden"
cp -r /usr/include/nlohmann "$kit/include/"
cp -L "$blas_inc/cblas.h" "$blas_inc/openblas_config.h" "$kit/include/"
cp -L "$blas_dir/libopenblas.so.0" /lib/x86_64-linux-gnu/libgfortran.so.5 /lib/x86_64-linux-gnu/libquadmath.so.0 "$kit/libs/"
nice -n 19 tar -C "$kit/libs" -cJf "$kit/lib.tar.xz" .
rm -rf "$kit/libs"
exclude=$(git -C "$root" rev-parse --git-path info/exclude)
case "$exclude" in /*) ;; *) exclude="$root/$exclude" ;; esac
mkdir -p "$(dirname "$exclude")"
grep -qx '/.cuda-kit/' "$exclude" 2>/dev/null || echo '/.cuda-kit/' >> "$exclude"
du -sh "$kit"
echo "make_kit: $kit ready; carry it with the run tool: carry [\".cuda-kit\"]"
