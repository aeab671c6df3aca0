// The text-to-image pipeline over Node-API. Loading and generating run on the libuv pool, never
// on the JS thread; progress and previews cross back through a Napi::ThreadSafeFunction with
// non-blocking calls on a small bounded queue: when JS falls behind, progress messages are
// dropped (the next one supersedes them) and previews are sent only while fewer than two are
// in flight, so a slow renderer never makes the engine wait or the queue grow.
//
//   loadPipeline(manifestPath, {weights?: 'bf16'|'f32', t5Int8?: boolean,
//                               backend?: 'auto'|'cpu'|'vulkan'|'cuda',
//                               adapter?: {path, strength}}) -> Promise<handle>
//     (adapter: a tuning variant, tuning/variant.h, merged into the Dimba weights at strength
//     0..2 at load)
//     handle: {id, name, manifestHash, tokenizerHash, t5WeightsId, weights, resolution,
//              sizeMultiple, defaults: {steps, guidance, sampler, width, height},
//              backend, backendReason} (backend: where the models run; auto by default; a
//              backend that is not available rejects with E_BACKEND_UNAVAILABLE) (+ a hidden
//              native reference; the models stay alive while the handle or a job holds them)
//   releasePipeline(handle) -> undefined: drops the handle's reference now (running jobs keep
//     theirs) instead of waiting for the garbage collector to free gigabytes of weights
//   generate(handle, recipe, onProgress?) -> {promise, cancel(): void}
//     promise: Promise<{images: [{width, height, seed, rgb}], times: {text, sampling, decode}}>
//     (rgb: a Buffer of height * width * 3 bytes; times in seconds per stage)
//     recipe: {prompt, negativePrompt?, seed?, steps?, guidance?, sampler?, width?, height?,
//              count?, previewEvery?}; missing fields take the manifest's defaults.
//     onProgress({stage: 'text'|'sampling'|'decoding', image, count, step, steps,
//                 preview?: {width, height, rgb}}); what it throws is ignored.
//     cancel() takes effect before the next model call: the promise rejects with E_CANCELLED.
// Errors: a wrong JS type throws a TypeError with code E_INVALID_ARGUMENT at the call; engine
// errors reject the promise with an Error whose `code` is the EngineError's name.
// defines: register_pipeline_exports
#include "addon/pipeline_bindings.h"

#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "addon/async_work.h"
#include "addon/backend_bindings.h"
#include "core/error.h"
#include "pipeline/manifest.h"
#include "pipeline/text_to_image.h"
#include "io/load_checkpoint.h"
#include "tuning/variant.h"

namespace dimba_addon {
namespace {

using dimba::EngineError;
using dimba::ErrorCode;

// Marks externals made here, so a foreign object passed as a handle is refused, not cast.
const napi_type_tag kPipelineTag = {0x7d1a3c55e0b84f21ull, 0x9c2e41f0a6d35b87ull};

struct PipelineRef {
  std::shared_ptr<dimba::Pipeline> pipeline;
};

Napi::Object defaults_to_js(Napi::Env env, const dimba::ManifestDefaults& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("steps", d.steps);
  o.Set("guidance", d.guidance);
  o.Set("sampler", d.sampler);
  o.Set("width", d.width);
  o.Set("height", d.height);
  return o;
}

class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, std::string path, dimba::PipelineOptions opt, std::string adapter, double strength)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), path_(std::move(path)), opt_(opt),
        adapter_(std::move(adapter)), strength_(strength) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    failure_.run([&] {
      dimba::ModelManifest m = dimba::load_manifest(path_);
      pipeline_ = std::make_shared<dimba::Pipeline>(dimba::Pipeline::load(m, opt_));
      if (!adapter_.empty()) {  // the base weights in f32, the variant merged, then the model's dtype
        dimba::ParamSet w = dimba::ParamSet::from_checkpoint(dimba::load_checkpoint(m.dimba_weights), m.dimba);
        dimba::apply_variant(w, adapter_, strength_);
        pipeline_->set_dimba(
            dimba::dimba_from_params(w, m.dimba, opt_.weights, dimba::find_backend(pipeline_->info().backend)));
      }
    });
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (failure_.failed()) {
      deferred_.Reject(failure_.to_js(env));
      return;
    }
    const dimba::PipelineModelInfo& info = pipeline_->info();
    Napi::Object handle = Napi::Object::New(env);
    auto* ref = new PipelineRef{pipeline_};
    Napi::External<PipelineRef> ext =
        Napi::External<PipelineRef>::New(env, ref, [](Napi::Env, PipelineRef* r) { delete r; });
    ext.TypeTag(&kPipelineTag);
    handle.DefineProperty(Napi::PropertyDescriptor::Value("native", ext, napi_default));  // not enumerable
    handle.Set("id", info.id);
    handle.Set("name", info.name);
    handle.Set("manifestHash", info.manifest_hash);
    handle.Set("tokenizerHash", info.tokenizer_hash);
    handle.Set("t5WeightsId", info.t5_weights_id);
    handle.Set("weights", info.weights);
    handle.Set("resolution", info.resolution);
    handle.Set("sizeMultiple", pipeline_->limits().size_multiple);
    handle.Set("defaults", defaults_to_js(env, info.defaults));
    handle.Set("backend", info.backend);
    handle.Set("backendReason", info.backend_reason);
    deferred_.Resolve(handle);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  dimba::PipelineOptions opt_;
  std::string adapter_;
  double strength_;
  std::shared_ptr<dimba::Pipeline> pipeline_;
  Failure failure_;
};

PipelineRef* handle_ref(Napi::Env env, const Napi::Value& v) {
  if (!v.IsObject()) throw_invalid(env, "the first argument must be a pipeline handle from loadPipeline");
  Napi::Value n = v.As<Napi::Object>().Get("native");
  if (!n.IsExternal() || !n.As<Napi::External<PipelineRef>>().CheckTypeTag(&kPipelineTag))
    throw_invalid(env, "the first argument must be a pipeline handle from loadPipeline");
  return n.As<Napi::External<PipelineRef>>().Data();
}

// loadPipeline(manifestPath, options?)
Napi::Value LoadPipeline(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw_invalid(env, "loadPipeline(manifestPath, options?) needs a path");
  dimba::PipelineOptions opt;
  opt.backend = "auto";
  std::string adapter;
  double strength = 1.0;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsObject()) throw_invalid(env, "loadPipeline: options must be an object");
    Napi::Object o = info[1].As<Napi::Object>();
    Napi::Value w = o.Get("weights");
    if (!w.IsUndefined()) {
      const std::string s = w.IsString() ? std::string(w.As<Napi::String>()) : std::string();
      if (s == "bf16") opt.weights = dimba::DType::BF16;
      else if (s == "f32") opt.weights = dimba::DType::F32;
      else throw_invalid(env, "loadPipeline: weights must be 'bf16' or 'f32'");
    }
    Napi::Value q = o.Get("t5Int8");
    if (!q.IsUndefined()) {
      if (!q.IsBoolean()) throw_invalid(env, "loadPipeline: t5Int8 must be a boolean");
      opt.t5_int8 = q.As<Napi::Boolean>();
    }
    opt.backend = backend_option(env, o, "loadPipeline");
    Napi::Value a = o.Get("adapter");
    if (!a.IsUndefined()) {
      Napi::Value ap = a.IsObject() ? a.As<Napi::Object>().Get("path") : env.Undefined();
      Napi::Value as = a.IsObject() ? a.As<Napi::Object>().Get("strength") : env.Undefined();
      if (!ap.IsString() || !as.IsNumber())
        throw_invalid(env, "loadPipeline: adapter must be {path: string, strength: number}");
      adapter = ap.As<Napi::String>();
      strength = as.As<Napi::Number>().DoubleValue();
    }
  }
  auto* worker = new LoadWorker(env, info[0].As<Napi::String>(), opt, adapter, strength);
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

Napi::Value ReleasePipeline(const Napi::CallbackInfo& info) {
  handle_ref(info.Env(), info.Length() > 0 ? info[0] : info.Env().Undefined())->pipeline.reset();
  return info.Env().Undefined();
}

// Recipe fields from JS, each checked for its type here (ranges are the engine's job).
dimba::Recipe recipe_from_js(Napi::Env env, const Napi::Value& v, dimba::Recipe r) {
  if (!v.IsObject()) throw_invalid(env, "generate: recipe must be an object");
  Napi::Object o = v.As<Napi::Object>();
  auto str = [&](const char* key, std::string& out, bool required) {
    Napi::Value x = o.Get(key);
    if (x.IsUndefined()) {
      if (required) throw_invalid(env, std::string("recipe.") + key + " is required");
      return;
    }
    if (!x.IsString()) throw_invalid(env, std::string("recipe.") + key + " must be a string");
    out = x.As<Napi::String>();
  };
  auto integer = [&](const char* key, int& out) {
    Napi::Value x = o.Get(key);
    if (x.IsUndefined()) return;
    double d = x.IsNumber() ? x.As<Napi::Number>().DoubleValue() : NAN;
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 1e9)
      throw_invalid(env, std::string("recipe.") + key + " must be an integer");
    out = int(d);
  };
  str("prompt", r.prompt, true);
  str("negativePrompt", r.negative_prompt, false);
  str("sampler", r.sampler, false);
  Napi::Value seed = o.Get("seed");
  if (!seed.IsUndefined()) {
    if (seed.IsBigInt()) {
      bool lossless = false;
      r.seed = seed.As<Napi::BigInt>().Uint64Value(&lossless);
      if (!lossless) throw_invalid(env, "recipe.seed must be an integer in [0, 2^64)");
    } else {
      double d = seed.IsNumber() ? seed.As<Napi::Number>().DoubleValue() : NAN;
      if (!std::isfinite(d) || d != std::floor(d) || d < 0 || d > 9007199254740991.0)
        throw_invalid(env, "recipe.seed must be a safe non-negative integer (or a bigint)");
      r.seed = uint64_t(d);
    }
  }
  integer("steps", r.steps);
  Napi::Value g = o.Get("guidance");
  if (!g.IsUndefined()) {
    if (!g.IsNumber()) throw_invalid(env, "recipe.guidance must be a number");
    r.guidance = g.As<Napi::Number>().DoubleValue();
  }
  integer("width", r.width);
  integer("height", r.height);
  integer("count", r.count);
  integer("previewEvery", r.preview_every);
  return r;
}

struct ProgressMsg {
  dimba::PipelineStage stage;
  int image, count, step, steps;
  bool has_preview = false;
  dimba::PreviewImage preview;
};

// What a generation leaves for the JS thread; shared by the worker and the progress function's
// finalizer, whichever settles the promise.
struct JobState {
  explicit JobState(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
  dimba::GenerateResult result;
  Failure failure;
};

void settle(Napi::Env env, JobState& job) {
  if (job.failure.failed()) {
    job.deferred.Reject(job.failure.to_js(env));
    return;
  }
  Napi::Array out = Napi::Array::New(env, job.result.images.size());
  for (size_t i = 0; i < job.result.images.size(); ++i) {
    const dimba::GeneratedImage& img = job.result.images[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("width", img.width);
    o.Set("height", img.height);
    // Seeds up to 2^53 - 1 are exact numbers; larger ones (bigint recipes) come back as bigint.
    if (img.seed <= 9007199254740991ull) o.Set("seed", Napi::Number::New(env, double(img.seed)));
    else o.Set("seed", Napi::BigInt::New(env, img.seed));
    o.Set("rgb", Napi::Buffer<uint8_t>::Copy(env, img.rgb.data(), img.rgb.size()));
    out.Set(uint32_t(i), o);
  }
  Napi::Object times = Napi::Object::New(env);
  times.Set("text", job.result.times.text);
  times.Set("sampling", job.result.times.sampling);
  times.Set("decode", job.result.times.decode);
  Napi::Object res = Napi::Object::New(env);
  res.Set("images", out);
  res.Set("times", times);
  job.deferred.Resolve(res);
}

class GenerateWorker : public Napi::AsyncWorker {
 public:
  GenerateWorker(Napi::Env env, std::shared_ptr<dimba::Pipeline> p, dimba::Recipe r,
                 std::shared_ptr<std::atomic<bool>> cancel, Napi::Function on_progress)
      : Napi::AsyncWorker(env), job_(std::make_shared<JobState>(env)), pipeline_(std::move(p)),
        recipe_(std::move(r)), cancel_(std::move(cancel)), pending_previews_(std::make_shared<std::atomic<int>>(0)) {
    if (!on_progress.IsEmpty()) {
      // With a listener, the promise settles in the function's finalizer, which runs after every
      // queued progress call: a caller never sees progress after the result.
      std::shared_ptr<JobState> job = job_;
      tsfn_ = Napi::ThreadSafeFunction::New(env, on_progress, "dimba.generate.progress", kQueue, 1,
                                            [job](Napi::Env fenv) { settle(fenv, *job); });
      has_tsfn_ = true;
    }
  }
  Napi::Promise promise() { return job_->deferred.Promise(); }

 protected:
  void Execute() override {
    job_->failure.run([&] {
      dimba::GenerateHooks hooks;
      hooks.cancel = cancel_.get();
      if (has_tsfn_)
        hooks.on_progress = [&](const dimba::GenerateProgress& p) {
          send(p);
          return dimba::StepAction::Continue;
        };
      job_->result = pipeline_->generate(recipe_, hooks);
    });
    if (has_tsfn_) tsfn_.Release();  // queued messages are still delivered, then the finalizer settles
  }
  void OnOK() override {
    if (!has_tsfn_) settle(Env(), *job_);
  }

 private:
  static constexpr size_t kQueue = 32;     // progress messages waiting for the JS thread
  static constexpr int kMaxPreviews = 2;   // previews among them

  void send(const dimba::GenerateProgress& p) {
    auto* msg = new ProgressMsg{p.stage, p.image, p.count, p.step, p.steps};
    std::shared_ptr<std::atomic<int>> pending = pending_previews_;
    if (p.preview && pending->load() < kMaxPreviews) {
      msg->has_preview = true;
      msg->preview = *p.preview;
      pending->fetch_add(1);
    }
    napi_status st = tsfn_.NonBlockingCall(msg, [pending](Napi::Env env, Napi::Function fn, ProgressMsg* m) {
      std::unique_ptr<ProgressMsg> own(m);
      if (m->has_preview) pending->fetch_sub(1);
      if (env == nullptr) return;
      Napi::Object o = Napi::Object::New(env);
      o.Set("stage", dimba::pipeline_stage_name(m->stage));
      o.Set("image", m->image);
      o.Set("count", m->count);
      o.Set("step", m->step);
      o.Set("steps", m->steps);
      if (m->has_preview) {
        Napi::Object pv = Napi::Object::New(env);
        pv.Set("width", m->preview.width);
        pv.Set("height", m->preview.height);
        pv.Set("rgb", Napi::Buffer<uint8_t>::Copy(env, m->preview.rgb.data(), m->preview.rgb.size()));
        o.Set("preview", pv);
      }
      try {
        fn.Call({o});
      } catch (const Napi::Error&) {
        // A listener's failure must not kill the engine process or the job.
      }
    });
    if (st != napi_ok) {  // queue full (or closing): drop this message
      if (msg->has_preview) pending->fetch_sub(1);
      delete msg;
    }
  }

  std::shared_ptr<JobState> job_;
  std::shared_ptr<dimba::Pipeline> pipeline_;
  dimba::Recipe recipe_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  std::shared_ptr<std::atomic<int>> pending_previews_;
  Napi::ThreadSafeFunction tsfn_;
  bool has_tsfn_ = false;
};

// generate(handle, recipe, onProgress?) -> {promise, cancel}
Napi::Value Generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PipelineRef* ref = handle_ref(env, info.Length() > 0 ? info[0] : env.Undefined());
  if (!ref->pipeline) throw_invalid(env, "generate: the pipeline was released");
  dimba::Recipe recipe =
      recipe_from_js(env, info.Length() > 1 ? info[1] : env.Undefined(), ref->pipeline->default_recipe());
  Napi::Function on_progress = optional_callback(info, 2, "generate: onProgress");
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  auto* worker = new GenerateWorker(env, ref->pipeline, std::move(recipe), cancel, on_progress);
  Napi::Object run = cancellable_run(env, worker->promise(), cancel);
  worker->Queue();
  return run;
}

}  // namespace

void register_pipeline_exports(Napi::Env env, Napi::Object exports) {
  exports.Set("loadPipeline", Napi::Function::New(env, LoadPipeline));
  exports.Set("releasePipeline", Napi::Function::New(env, ReleasePipeline));
  exports.Set("generate", Napi::Function::New(env, Generate));
}

}  // namespace dimba_addon
