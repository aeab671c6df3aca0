#!/usr/bin/env bash
# Runs the engine's C++ tests under ctest. With node_modules present it reuses the npm build
# (build/native, built by build-addon.sh, so the engine compiles once per `npm test`); on a
# machine without node (the lent GPU box) it builds with plain cmake into build/native-cmake.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -x "$root/node_modules/.bin/cmake-js" ]; then
  bash "$root/native/scripts/build-addon.sh"
  build="$root/build/native"
else
  build="$root/build/native-cmake"
  cmake -S "$root/native" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
  cmake --build "$build" -j 2
fi
# Under CI (CI=true) the Vulkan tests must run, on lavapipe from scripts/system-packages.txt:
# a missing device fails them instead of skipping them.
if [ -n "${CI:-}" ] && [ "${CI}" != "false" ]; then export DIMBA_REQUIRE_VULKAN=${DIMBA_REQUIRE_VULKAN:-1}; fi
cd "$build" && ctest --output-on-failure
