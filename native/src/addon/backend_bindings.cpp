// backends() -> [{name, available, preferred, detail}] (backend/select.h): cpu, vulkan (its
// device, or why there is none), cuda. `preferred`: auto takes it over the CPU backend (a
// GPU; a CPU Vulkan driver such as lavapipe is available but not preferred). The first call
// starts the Vulkan device when there is one (tens of milliseconds), on the calling thread.
// defines: register_backend_exports, backend_option
#include "addon/backend_bindings.h"

#include "addon/async_work.h"
#include "backend/select.h"

namespace dimba_addon {
namespace {

Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::vector<dimba::BackendProbe> found = dimba::probe_backends();
  Napi::Array out = Napi::Array::New(env, found.size());
  for (size_t i = 0; i < found.size(); ++i) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("name", found[i].name);
    p.Set("available", found[i].available);
    p.Set("preferred", found[i].preferred);
    p.Set("detail", found[i].detail);
    out.Set(uint32_t(i), p);
  }
  return out;
}

}  // namespace

std::string backend_option(Napi::Env env, const Napi::Object& options, const char* fn) {
  Napi::Value v = options.Get("backend");
  if (v.IsUndefined()) return "auto";
  const std::string s = v.IsString() ? std::string(v.As<Napi::String>()) : std::string();
  if (s != "auto" && s != "cpu" && s != "vulkan" && s != "cuda")
    throw_invalid(env, std::string(fn) + ": backend must be 'auto', 'cpu', 'vulkan' or 'cuda'");
  return s;
}

void register_backend_exports(Napi::Env env, Napi::Object exports) {
  exports.Set("backends", Napi::Function::New(env, Backends));
}

}  // namespace dimba_addon
