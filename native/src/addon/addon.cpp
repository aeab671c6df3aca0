// The Node-API surface of the engine, and nothing else: each call validates its arguments,
// runs the engine off the JS thread (Napi::AsyncWorker) and settles a promise. Engine errors
// become JS Errors whose `code` is the EngineError's code name (E_BAD_FILE, ...), so the
// TypeScript side can branch on them (see main/engine/native.ts).
// defines: the addon's exports (verifyGolden; the pipeline's in pipeline_bindings.cpp)
#include <napi.h>

#include <string>

#include "addon/inspect_bindings.h"
#include "addon/pipeline_bindings.h"
#include "core/error.h"
#include "verify/golden.h"

namespace {

// Runs `work` on the libuv pool; `result` turns its output into a JS value on the main thread.
template <class Out>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<Out()>;
  using ToJs = std::function<Napi::Value(Napi::Env, Out&)>;
  PromiseWorker(Napi::Env env, Work work, ToJs to_js)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)), to_js_(std::move(to_js)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      out_ = work_();
    } catch (const dimba::EngineError& e) {
      code_ = dimba::error_code_name(e.code);
      message_ = e.what();
    } catch (const std::bad_alloc&) {
      code_ = "E_OUT_OF_MEMORY";
      message_ = "the engine ran out of memory";
    } catch (const std::exception& e) {
      code_ = "E_INTERNAL";
      message_ = e.what();
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!code_.empty()) {
      Napi::Error err = Napi::Error::New(env, message_);
      err.Set("code", Napi::String::New(env, code_));
      deferred_.Reject(err.Value());
      return;
    }
    deferred_.Resolve(to_js_(env, out_));
  }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  ToJs to_js_;
  Out out_{};
  std::string code_, message_;
};

Napi::Value throw_invalid(Napi::Env env, const std::string& msg) {
  Napi::Error err = Napi::TypeError::New(env, msg);
  err.Set("code", Napi::String::New(env, "E_INVALID_ARGUMENT"));
  throw err;
}

dimba::DType parse_weight_dtype(Napi::Env env, const Napi::Value& v) {
  if (v.IsUndefined()) return dimba::DType::F32;
  if (!v.IsString()) throw_invalid(env, "weights must be 'f32', 'bf16' or 'f16'");
  std::string s = v.As<Napi::String>();
  if (s == "f32") return dimba::DType::F32;
  if (s == "bf16") return dimba::DType::BF16;
  if (s == "f16") return dimba::DType::F16;
  throw_invalid(env, "weights must be 'f32', 'bf16' or 'f16', not '" + s + "'");
  return dimba::DType::F32;
}

// verifyGolden(dir: string, caseName: string, options?: {weights?: 'f32'|'bf16'|'f16'})
//   -> Promise<{kind, lines: [{name, relErr, tol, pass}], pass}>
Napi::Value VerifyGolden(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString())
    return throw_invalid(env, "verifyGolden(dir, caseName, options?) needs two strings");
  std::string dir = info[0].As<Napi::String>(), name = info[1].As<Napi::String>();
  dimba::VerifyOptions opt;
  if (info.Length() > 2 && info[2].IsObject())
    opt.weight_dtype = parse_weight_dtype(env, info[2].As<Napi::Object>().Get("weights"));
  auto* worker = new PromiseWorker<dimba::VerifyReport>(
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
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("verifyGolden", Napi::Function::New(env, VerifyGolden));
  dimba_addon::register_pipeline_exports(env, exports);
  dimba_addon::register_inspect_exports(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(dimba_addon, Init)
