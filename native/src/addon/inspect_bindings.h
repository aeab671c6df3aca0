// The model manager's part of the addon (inspect_bindings.cpp): inspectCheckpoint.
// addon.cpp's Init calls register_inspect_exports.
// defines: register_inspect_exports
#pragma once
#include <napi.h>

namespace dimba_addon {

void register_inspect_exports(Napi::Env env, Napi::Object exports);

}  // namespace dimba_addon
