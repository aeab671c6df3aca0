// What every binding of the addon shares: engine failures caught on the worker thread and
// turned into JS errors carrying the engine's code, argument errors thrown as
// E_INVALID_ARGUMENT, and a worker that runs one engine call off the JS thread and settles a
// promise with its result.
// defines: throw_invalid, coded_error, optional_callback, cancellable_run, Failure, PromiseWorker
#pragma once
#include <napi.h>

#include <atomic>
#include <functional>
#include <memory>
#include <new>
#include <string>

#include "core/error.h"

namespace dimba_addon {

// A TypeError with code E_INVALID_ARGUMENT, thrown at the call (the JS caller's mistake).
[[noreturn]] inline void throw_invalid(Napi::Env env, const std::string& msg) {
  Napi::Error err = Napi::TypeError::New(env, msg);
  err.Set("code", Napi::String::New(env, "E_INVALID_ARGUMENT"));
  throw err;
}

inline Napi::Error coded_error(Napi::Env env, const std::string& code, const std::string& msg) {
  Napi::Error err = Napi::Error::New(env, msg);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

// Argument `i` as a callback, or an empty function when it is absent, undefined or null.
inline Napi::Function optional_callback(const Napi::CallbackInfo& info, size_t i, const std::string& what) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return Napi::Function();
  if (!info[i].IsFunction()) throw_invalid(info.Env(), what + " must be a function");
  return info[i].As<Napi::Function>();
}

// What a long run hands JS: {promise, cancel}; cancel() raises the flag the engine polls between
// steps, so it returns at once and the promise settles when the engine notices.
inline Napi::Object cancellable_run(Napi::Env env, Napi::Promise promise,
                                    std::shared_ptr<std::atomic<bool>> cancel) {
  Napi::Object run = Napi::Object::New(env);
  run.Set("promise", promise);
  run.Set("cancel", Napi::Function::New(env, [cancel](const Napi::CallbackInfo& ci) {
            cancel->store(true);
            return ci.Env().Undefined();
          }));
  return run;
}

// Runs engine work (off the JS thread) and records how it failed as (code, message); the JS
// error is made later, on the JS thread.
struct Failure {
  std::string code, message;

  template <class F>
  void run(F&& work) {
    try {
      work();
    } catch (const dimba::EngineError& e) {
      code = dimba::error_code_name(e.code);
      message = e.what();
    } catch (const std::bad_alloc&) {
      code = "E_OUT_OF_MEMORY";
      message = "the engine ran out of memory";
    } catch (const std::exception& e) {
      code = "E_INTERNAL";
      message = e.what();
    }
  }
  bool failed() const { return !code.empty(); }
  Napi::Value to_js(Napi::Env env) const { return coded_error(env, code, message).Value(); }
};

// Runs `work` on the libuv pool; `to_js` turns its result into a JS value on the JS thread.
template <class Out>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<Out()>;
  using ToJs = std::function<Napi::Value(Napi::Env, Out&)>;
  PromiseWorker(Napi::Env env, Work work, ToJs to_js)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)),
        to_js_(std::move(to_js)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  // Queues the work and hands back its promise.
  static Napi::Promise start(Napi::Env env, Work work, ToJs to_js) {
    auto* w = new PromiseWorker(env, std::move(work), std::move(to_js));  // deleted by Napi when done
    Napi::Promise p = w->promise();
    w->Queue();
    return p;
  }

 protected:
  void Execute() override {
    failure_.run([&] { out_ = work_(); });
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (failure_.failed()) deferred_.Reject(failure_.to_js(env));
    else deferred_.Resolve(to_js_(env, out_));
  }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  ToJs to_js_;
  Out out_{};
  Failure failure_;
};

}  // namespace dimba_addon
