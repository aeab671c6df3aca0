// The Node-API surface of the engine, and nothing else: each call validates its arguments,
// runs the engine off the JS thread (Napi::AsyncWorker) and settles a promise. Engine errors
// become JS Errors whose `code` is the EngineError's code name (E_BAD_FILE, ...), so the
// TypeScript side can branch on them (see main/engine/native.ts).
// defines: the addon's exports (verifyGolden; the pipeline's in pipeline_bindings.cpp)
#include <napi.h>

#include <string>

#include "addon/backend_bindings.h"
#include "addon/inspect_bindings.h"
#include "addon/pipeline_bindings.h"
#include "addon/tuning_bindings.h"
#include "addon/async_work.h"
#include "addon/dimba_bindings.h"
#include "core/error.h"
#include "verify/golden.h"

namespace {

using dimba_addon::PromiseWorker;
using dimba_addon::throw_invalid;

dimba::DType parse_weight_dtype(Napi::Env env, const Napi::Value& v) {
  if (v.IsUndefined()) return dimba::DType::F32;
  if (!v.IsString()) throw_invalid(env, "weights must be 'f32', 'bf16' or 'f16'");
  std::string s = v.As<Napi::String>();
  if (s == "f32") return dimba::DType::F32;
  if (s == "bf16") return dimba::DType::BF16;
  if (s == "f16") return dimba::DType::F16;
  throw_invalid(env, "weights must be 'f32', 'bf16' or 'f16', not '" + s + "'");
}

// verifyGolden(dir: string, caseName: string,
//              options?: {weights?: 'f32'|'bf16'|'f16', backend?: 'auto'|'cpu'|'vulkan'|'cuda'})
// (backend: where the model cases run, cpu when absent)
//   -> Promise<{kind, lines: [{name, relErr, tol, pass}], pass}>
Napi::Value VerifyGolden(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString())
    throw_invalid(env, "verifyGolden(dir, caseName, options?) needs two strings");
  std::string dir = info[0].As<Napi::String>(), name = info[1].As<Napi::String>();
  dimba::VerifyOptions opt;
  if (info.Length() > 2 && info[2].IsObject()) {
    Napi::Object o = info[2].As<Napi::Object>();
    opt.weight_dtype = parse_weight_dtype(env, o.Get("weights"));
    if (!o.Get("backend").IsUndefined()) opt.backend = dimba_addon::backend_option(env, o, "verifyGolden");
  }
  return PromiseWorker<dimba::VerifyReport>::start(
      env, [=] { return dimba::verify_golden(dir, name, opt); },
      [](Napi::Env env, dimba::VerifyReport& r) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("kind", r.kind);
        Napi::Array lines = Napi::Array::New(env, r.lines.size());
        for (size_t i = 0; i < r.lines.size(); ++i) {
          Napi::Object l = Napi::Object::New(env);
          l.Set("name", r.lines[i].name);
          l.Set("relErr", r.lines[i].rel_err);
          l.Set("tol", r.lines[i].tol);
          l.Set("pass", r.lines[i].pass());
          lines.Set(uint32_t(i), l);
        }
        out.Set("lines", lines);
        out.Set("pass", r.pass());
        return out;
      });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("verifyGolden", Napi::Function::New(env, VerifyGolden));
  dimba_addon::register_dimba_exports(env, exports);
  dimba_addon::register_pipeline_exports(env, exports);
  dimba_addon::register_inspect_exports(env, exports);
  dimba_addon::register_backend_exports(env, exports);
  dimba_addon::register_tuning_exports(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(dimba_addon, Init)
