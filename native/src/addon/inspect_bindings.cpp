// inspectCheckpoint(path, options?: {config?: string}) -> Promise<Inspection>: what a
// checkpoint file or folder holds and which architecture it is (models/inspect.h). Reads
// headers only; runs on the libuv pool because a sharded T5 folder means several opens and
// mmaps. Engine errors reject with `code` = the EngineError's code name.
// defines: register_inspect_exports
#include "addon/inspect_bindings.h"

#include <vector>
#include <string>

#include "addon/async_work.h"
#include "models/inspect.h"

namespace dimba_addon {
namespace {

Napi::Array strings(Napi::Env env, const std::vector<std::string>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); ++i) a.Set(uint32_t(i), v[i]);
  return a;
}

Napi::Value inspection_to_js(Napi::Env env, dimba::Inspection& r) {
  Napi::Object out = Napi::Object::New(env);
  Napi::Array tensors = Napi::Array::New(env, r.tensors.size());
  for (size_t i = 0; i < r.tensors.size(); ++i) {
    const auto& t = r.tensors[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", t.name);
    o.Set("dtype", t.dtype);
    Napi::Array shape = Napi::Array::New(env, t.shape.size());
    for (size_t k = 0; k < t.shape.size(); ++k) shape.Set(uint32_t(k), double(t.shape[k]));
    o.Set("shape", shape);
    o.Set("bytes", double(t.nbytes));
    tensors.Set(uint32_t(i), o);
  }
  out.Set("tensors", tensors);
  out.Set("totalBytes", double(r.total_bytes));  // exact below 2^53 bytes (8 PiB)
  out.Set("kind", r.kind);
  out.Set("matched", r.matched);
  out.Set("expected", r.expected);
  out.Set("missing", strings(env, r.missing));
  out.Set("unexpected", strings(env, r.unexpected));
  out.Set("wrongShape", strings(env, r.wrong_shape));
  out.Set("ok", r.ok());
  return out;
}

Napi::Value InspectCheckpoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw_invalid(env, "inspectCheckpoint(path, options?) needs a path string");
  dimba::InspectOptions options;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsObject()) throw_invalid(env, "inspectCheckpoint: options must be an object");
    Napi::Value config = info[1].As<Napi::Object>().Get("config");
    if (!config.IsUndefined()) {
      if (!config.IsString()) throw_invalid(env, "inspectCheckpoint: options.config must be a path string");
      options.config_path = config.As<Napi::String>();
    }
  }
  std::string path = info[0].As<Napi::String>();
  return PromiseWorker<dimba::Inspection>::start(
      env, [path, options] { return dimba::inspect_checkpoint(path, options); }, inspection_to_js);
}

}  // namespace

void register_inspect_exports(Napi::Env env, Napi::Object exports) {
  exports.Set("inspectCheckpoint", Napi::Function::New(env, InspectCheckpoint));
}

}  // namespace dimba_addon
