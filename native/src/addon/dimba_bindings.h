// The Dimba network itself over Node-API (dimba_bindings.cpp): loadDimba, dimbaForward.
// addon.cpp's Init calls register_dimba_exports.
// defines: register_dimba_exports
#pragma once
#include <napi.h>

namespace dimba_addon {

void register_dimba_exports(Napi::Env env, Napi::Object exports);

}  // namespace dimba_addon
