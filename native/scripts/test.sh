#!/usr/bin/env bash
# Builds the engine without node (plain cmake) and runs its C++ tests under ctest.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/../build/native"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j 2
cd "$build" && ctest --output-on-failure
