// inspectCheckpoint(path, options?: {config?: string}) -> Promise<Inspection>: what a
// checkpoint file or folder holds and which architecture it is (models/inspect.h). Reads
// headers only; runs on the libuv pool because a sharded T5 folder means several opens and
// mmaps. Engine errors reject with `code` = the EngineError's code name.
// defines: register_inspect_exports
#include "addon/inspect_bindings.h"

#include <new>
#include <string>

#include "core/error.h"
#include "models/inspect.h"

namespace dimba_addon {
namespace {

class InspectWorker : public Napi::AsyncWorker {
 public:
  InspectWorker(Napi::Env env, std::string path, dimba::InspectOptions options)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)),
        path_(std::move(path)), options_(std::move(options)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      result_ = dimba::inspect_checkpoint(path_, options_);
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
    deferred_.Resolve(to_js(env, result_));
  }

 private:
  static Napi::Array strings(Napi::Env env, const std::vector<std::string>& v) {
    Napi::Array a = Napi::Array::New(env, v.size());
    for (size_t i = 0; i < v.size(); ++i) a.Set(uint32_t(i), v[i]);
    return a;
  }

  static Napi::Object to_js(Napi::Env env, const dimba::Inspection& r) {
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

  Napi::Promise::Deferred deferred_;
  std::string path_;
  dimba::InspectOptions options_;
  dimba::Inspection result_;
  std::string code_, message_;
};

Napi::Value InspectCheckpoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto invalid = [&](const std::string& msg) {
    Napi::Error err = Napi::TypeError::New(env, msg);
    err.Set("code", Napi::String::New(env, "E_INVALID_ARGUMENT"));
    throw err;
  };
  if (info.Length() < 1 || !info[0].IsString()) invalid("inspectCheckpoint(path, options?) needs a path string");
  dimba::InspectOptions options;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsObject()) invalid("inspectCheckpoint: options must be an object");
    Napi::Value config = info[1].As<Napi::Object>().Get("config");
    if (!config.IsUndefined()) {
      if (!config.IsString()) invalid("inspectCheckpoint: options.config must be a path string");
      options.config_path = config.As<Napi::String>();
    }
  }
  auto* worker = new InspectWorker(env, info[0].As<Napi::String>(), std::move(options));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

}  // namespace

void register_inspect_exports(Napi::Env env, Napi::Object exports) {
  exports.Set("inspectCheckpoint", Napi::Function::New(env, InspectCheckpoint));
}

}  // namespace dimba_addon
