#!/usr/bin/env bash
# Builds the engine, its C++ tests and tools, and the Node addon (build/addon/Release/
# dimba_addon.node) in one cmake-js tree, build/native. Headers come from node-api-headers +
# node-addon-api (package.json "binary": {"napi_versions": [8]}), so nothing is downloaded;
# Node-API keeps the same binary loadable in node and Electron.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
npx --no-install cmake-js compile --directory native --out build/native --log-level warn
