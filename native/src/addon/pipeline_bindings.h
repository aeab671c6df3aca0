// The text-to-image pipeline's part of the addon (pipeline_bindings.cpp): loadPipeline,
// releasePipeline, generate. addon.cpp's Init calls register_pipeline_exports.
// defines: register_pipeline_exports
#pragma once
#include <napi.h>

namespace dimba_addon {

void register_pipeline_exports(Napi::Env env, Napi::Object exports);

}  // namespace dimba_addon
