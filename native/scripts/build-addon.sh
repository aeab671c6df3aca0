#!/usr/bin/env bash
# Builds the Node addon (build/addon/Release/dimba_addon.node) with cmake-js. Headers come
# from node-api-headers + node-addon-api (package.json "binary": {"napi_versions": [8]}), so
# nothing is downloaded; Node-API keeps the same binary loadable in node and Electron.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
npx --no-install cmake-js compile --directory native --out build/addon --log-level warn
