// Quality tuning's part of the addon (tuning_bindings.cpp): tune. addon.cpp's Init calls
// register_tuning_exports.
// defines: register_tuning_exports
#pragma once
#include <napi.h>

namespace dimba_addon {

void register_tuning_exports(Napi::Env env, Napi::Object exports);

}  // namespace dimba_addon
