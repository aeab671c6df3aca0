// The compute backend over Node-API (backend_bindings.cpp): backends() lists what this build
// and machine offer; backend_option() reads the `backend` option of loadPipeline/loadDimba.
// addon.cpp's Init calls register_backend_exports.
// defines: register_backend_exports, backend_option
#pragma once
#include <napi.h>

#include <string>

namespace dimba_addon {

void register_backend_exports(Napi::Env env, Napi::Object exports);

// options.backend: 'auto' (the default when absent), 'cpu', 'vulkan' or 'cuda'; anything
// else throws a TypeError with code E_INVALID_ARGUMENT naming `fn`.
std::string backend_option(Napi::Env env, const Napi::Object& options, const char* fn);

}  // namespace dimba_addon
