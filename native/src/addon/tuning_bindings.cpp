// Quality tuning over Node-API (tuning/tuning_run.h). The run goes on the libuv pool; its
// events cross to JS through a Napi::ThreadSafeFunction with blocking calls (every step's loss
// is a point of the curve and every checkpoint matters, so none is dropped; a step lasts far
// longer than a JS callback).
//
//   tune(options, onEvent?) -> {promise, cancel(): void}
//     options: {manifest, runDir, images: [{rgb: Buffer (h*w*3), width, height, caption}],
//               steps, batchSize?, lr?, warmupSteps?, saveEvery?, seed?, captionDropout?,
//               optimizer?: 'came'|'adamw', mode?: 'lora'|'full', loraRank?, loraAlpha?,
//               loraTargets?: string[], validationFraction?, previewPrompts?: string[],
//               previewSeeds?: number[], previewSteps?, previewGuidance?, resume?, minImages?,
//               checkpointing?}
//     onEvent: {type: 'phase', phase: 'preparing'|'training'|'sampling', done, total}
//            | {type: 'progress', step, loss, lr, gradNorm, secondsPerStep}
//            | {type: 'baseSamples', samples: [{prompt, seed, width, height, rgb}]}
//            | {type: 'startValidation', loss} (the held-out loss before the first step)
//            | {type: 'checkpoint', step, path, trainLoss, validationLoss (null: none), samples}
//     promise: {step, resumedFrom, cancelled, trainImages, validationImages,
//               startValidationLoss (null: none), checkpoints: [{step, path, trainLoss,
//               validationLoss}]}; cancel() stops at the end of the current step or sample
//               (the promise resolves with cancelled: true; the last save is where a resumed
//               run continues).
// Errors: wrong JS types throw a TypeError with code E_INVALID_ARGUMENT at the call; bad
// images, too few images and engine failures reject with the engine's code
// (E_INVALID_ARGUMENT naming the image, before any compute).
// defines: register_tuning_exports
#include "addon/tuning_bindings.h"

#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "addon/async_work.h"
#include "tuning/tuning_run.h"

namespace dimba_addon {
namespace {

struct PhaseEv {
  dimba::TuningPhase phase;
  int done, total;
};
struct SamplesEv {
  std::vector<dimba::TuningSample> samples;
};
struct StartValidationEv {
  double loss;
};
using Event = std::variant<PhaseEv, dimba::TrainProgress, SamplesEv, dimba::TuningCheckpoint, StartValidationEv>;

Napi::Value number_or_null(Napi::Env env, double v) { return v < 0 ? env.Null() : Napi::Number::New(env, v); }

Napi::Array samples_to_js(Napi::Env env, const std::vector<dimba::TuningSample>& s) {
  Napi::Array a = Napi::Array::New(env, s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("prompt", s[i].prompt);
    o.Set("seed", double(s[i].seed));
    o.Set("width", s[i].width);
    o.Set("height", s[i].height);
    o.Set("rgb", Napi::Buffer<uint8_t>::Copy(env, s[i].rgb.data(), s[i].rgb.size()));
    a.Set(uint32_t(i), o);
  }
  return a;
}

Napi::Object checkpoint_to_js(Napi::Env env, const dimba::TuningCheckpoint& c, bool with_samples) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("step", double(c.step));
  o.Set("path", c.path);
  o.Set("trainLoss", c.train_loss);
  o.Set("validationLoss", number_or_null(env, c.validation_loss));
  if (with_samples) o.Set("samples", samples_to_js(env, c.samples));
  return o;
}

Napi::Object event_to_js(Napi::Env env, const Event& ev) {
  Napi::Object o = Napi::Object::New(env);
  if (auto* p = std::get_if<PhaseEv>(&ev)) {
    o.Set("type", "phase");
    o.Set("phase", dimba::tuning_phase_name(p->phase));
    o.Set("done", p->done);
    o.Set("total", p->total);
  } else if (auto* t = std::get_if<dimba::TrainProgress>(&ev)) {
    o.Set("type", "progress");
    o.Set("step", double(t->step));
    o.Set("loss", t->loss);
    o.Set("lr", t->lr);
    o.Set("gradNorm", t->grad_norm);
    o.Set("secondsPerStep", t->seconds_per_step);
  } else if (auto* v = std::get_if<StartValidationEv>(&ev)) {
    o.Set("type", "startValidation");
    o.Set("loss", v->loss);
  } else if (auto* s = std::get_if<SamplesEv>(&ev)) {
    o.Set("type", "baseSamples");
    o.Set("samples", samples_to_js(env, s->samples));
  } else {
    o = checkpoint_to_js(env, std::get<dimba::TuningCheckpoint>(ev), true);
    o.Set("type", "checkpoint");
  }
  return o;
}

struct TuneState {
  explicit TuneState(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
  dimba::TuningResult result;
  Failure failure;
};

void settle(Napi::Env env, TuneState& st) {
  if (st.failure.failed()) {
    st.deferred.Reject(st.failure.to_js(env));
    return;
  }
  const dimba::TuningResult& r = st.result;
  Napi::Object o = Napi::Object::New(env);
  o.Set("step", double(r.step));
  o.Set("resumedFrom", double(r.resumed_from));
  o.Set("cancelled", r.cancelled);
  o.Set("trainImages", r.train_images);
  o.Set("validationImages", r.validation_images);
  o.Set("startValidationLoss", number_or_null(env, r.start_validation_loss));
  Napi::Array cks = Napi::Array::New(env, r.checkpoints.size());
  for (size_t i = 0; i < r.checkpoints.size(); ++i) cks.Set(uint32_t(i), checkpoint_to_js(env, r.checkpoints[i], false));
  o.Set("checkpoints", cks);
  st.deferred.Resolve(o);
}

class TuneWorker : public Napi::AsyncWorker {
 public:
  TuneWorker(Napi::Env env, std::vector<dimba::TuningImage> images, dimba::TuningOptions opt,
             std::shared_ptr<std::atomic<bool>> cancel, Napi::Function on_event)
      : Napi::AsyncWorker(env), st_(std::make_shared<TuneState>(env)), images_(std::move(images)),
        opt_(std::move(opt)), cancel_(std::move(cancel)) {
    if (!on_event.IsEmpty()) {
      std::shared_ptr<TuneState> st = st_;
      tsfn_ = Napi::ThreadSafeFunction::New(env, on_event, "dimba.tune.events", 64, 1,
                                            [st](Napi::Env fenv) { settle(fenv, *st); });
      has_tsfn_ = true;
    }
  }
  Napi::Promise promise() { return st_->deferred.Promise(); }

 protected:
  void Execute() override {
    st_->failure.run([&] {
      dimba::TuningHooks h;
      h.cancel = cancel_.get();
      if (has_tsfn_) {
        h.on_phase = [&](dimba::TuningPhase p, int done, int total) { send(PhaseEv{p, done, total}); };
        h.on_progress = [&](const dimba::TrainProgress& p) { send(p); };
        h.on_base_samples = [&](const std::vector<dimba::TuningSample>& s) { send(SamplesEv{s}); };
        h.on_checkpoint = [&](const dimba::TuningCheckpoint& c) { send(c); };
        h.on_start_validation = [&](double loss) { send(StartValidationEv{loss}); };
      }
      st_->result = dimba::run_tuning(images_, opt_, h);
    });
    images_.clear();
    if (has_tsfn_) tsfn_.Release();  // queued events are delivered, then the finalizer settles
  }
  void OnOK() override {
    if (!has_tsfn_) settle(Env(), *st_);
  }

 private:
  void send(Event ev) {
    auto* msg = new Event(std::move(ev));
    napi_status s = tsfn_.BlockingCall(msg, [](Napi::Env env, Napi::Function fn, Event* m) {
      std::unique_ptr<Event> own(m);
      if (env == nullptr) return;
      try {
        fn.Call({event_to_js(env, *m)});
      } catch (const Napi::Error&) {
        // A listener's failure must not stop the run.
      }
    });
    if (s != napi_ok) delete msg;
  }

  std::shared_ptr<TuneState> st_;
  std::vector<dimba::TuningImage> images_;
  dimba::TuningOptions opt_;
  std::shared_ptr<std::atomic<bool>> cancel_;
  Napi::ThreadSafeFunction tsfn_;
  bool has_tsfn_ = false;
};

// Typed readers of the options object: a missing key keeps the default, a wrong type throws.
struct OptionReader {
  Napi::Env env;
  Napi::Object o;
  Napi::Value get(const char* k) const { return o.Get(k); }
  [[noreturn]] void bad(const char* k, const char* what) const {
    throw_invalid(env, std::string("tune: options.") + k + " must be " + what);
  }
  void str(const char* k, std::string& out, bool required) const {
    Napi::Value v = get(k);
    if (v.IsUndefined()) {
      if (required) bad(k, "a string");
      return;
    }
    if (!v.IsString()) bad(k, "a string");
    out = v.As<Napi::String>();
  }
  void num(const char* k, double& out) const {
    Napi::Value v = get(k);
    if (v.IsUndefined()) return;
    if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue())) bad(k, "a finite number");
    out = v.As<Napi::Number>().DoubleValue();
  }
  template <class I>
  void integer(const char* k, I& out) const {
    double d = double(out);
    num(k, d);
    if (d != std::floor(d) || std::fabs(d) > 9007199254740991.0) bad(k, "an integer");
    out = I(d);
  }
  void boolean(const char* k, bool& out) const {
    Napi::Value v = get(k);
    if (v.IsUndefined()) return;
    if (!v.IsBoolean()) bad(k, "a boolean");
    out = v.As<Napi::Boolean>();
  }
  std::vector<std::string> strings(const char* k) const {
    std::vector<std::string> out;
    Napi::Value v = get(k);
    if (v.IsUndefined()) return out;
    if (!v.IsArray()) bad(k, "an array of strings");
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      if (!a.Get(i).IsString()) bad(k, "an array of strings");
      out.push_back(a.Get(i).As<Napi::String>());
    }
    return out;
  }
};

Napi::Value Tune(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw_invalid(env, "tune(options, onEvent?) needs an options object");
  OptionReader r{env, info[0].As<Napi::Object>()};
  dimba::TuningOptions opt;
  opt.train.lr = 1e-4;  // LoRA's usual rate; a full fine-tune passes the paper's 2e-5
  opt.train.use_lora = true;
  opt.train.save_every = 100;
  r.str("manifest", opt.manifest, true);
  r.str("runDir", opt.run_dir, true);
  r.integer("steps", opt.train.steps);
  r.integer("batchSize", opt.train.batch_size);
  r.num("lr", opt.train.lr);
  r.integer("warmupSteps", opt.train.warmup_steps);
  r.integer("saveEvery", opt.train.save_every);
  r.integer("seed", opt.train.seed);
  r.num("captionDropout", opt.train.caption_dropout);
  r.boolean("checkpointing", opt.train.checkpointing);
  std::string optimizer = "came", mode = "lora";
  r.str("optimizer", optimizer, false);
  r.str("mode", mode, false);
  if (optimizer != "came" && optimizer != "adamw") r.bad("optimizer", "'came' or 'adamw'");
  if (mode != "lora" && mode != "full") r.bad("mode", "'lora' or 'full'");
  opt.train.optimizer = optimizer == "came" ? dimba::TrainOptions::Optimizer::Came : dimba::TrainOptions::Optimizer::AdamW;
  opt.train.use_lora = mode == "lora";
  r.integer("loraRank", opt.train.lora.rank);
  opt.train.lora.alpha = opt.train.lora.rank;
  r.num("loraAlpha", opt.train.lora.alpha);
  std::vector<std::string> targets = r.strings("loraTargets");
  if (!targets.empty()) opt.train.lora.targets = targets;
  r.num("validationFraction", opt.validation_fraction);
  opt.preview_prompts = r.strings("previewPrompts");
  Napi::Value seeds = r.get("previewSeeds");
  if (!seeds.IsUndefined()) {
    if (!seeds.IsArray()) r.bad("previewSeeds", "an array of integers");
    Napi::Array a = seeds.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      const double d = a.Get(i).IsNumber() ? a.Get(i).As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 0 && d <= 9007199254740991.0 && d == std::floor(d))) r.bad("previewSeeds", "an array of integers");
      opt.preview_seeds.push_back(uint64_t(d));
    }
  }
  r.integer("previewSteps", opt.preview_steps);
  r.num("previewGuidance", opt.preview_guidance);
  r.boolean("resume", opt.resume);
  r.integer("minImages", opt.min_images);

  Napi::Value iv = r.get("images");
  if (!iv.IsArray()) r.bad("images", "an array of {rgb, width, height, caption}");
  Napi::Array arr = iv.As<Napi::Array>();
  std::vector<dimba::TuningImage> images;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value e = arr.Get(i);
    if (!e.IsObject()) r.bad("images", "an array of {rgb, width, height, caption}");
    Napi::Object io = e.As<Napi::Object>();
    Napi::Value rgb = io.Get("rgb"), w = io.Get("width"), h = io.Get("height"), c = io.Get("caption");
    if (!rgb.IsBuffer() || !w.IsNumber() || !h.IsNumber() || !c.IsString())
      throw_invalid(env, "tune: options.images[" + std::to_string(i) + "] needs rgb (Buffer), width, height, caption");
    dimba::TuningImage im;
    Napi::Buffer<uint8_t> b = rgb.As<Napi::Buffer<uint8_t>>();
    im.rgb.assign(b.Data(), b.Data() + b.Length());
    const double wd = w.As<Napi::Number>().DoubleValue(), hd = h.As<Napi::Number>().DoubleValue();
    im.width = wd >= 0 && wd < 1e6 ? int(wd) : -1;
    im.height = hd >= 0 && hd < 1e6 ? int(hd) : -1;
    im.caption = c.As<Napi::String>();
    images.push_back(std::move(im));
  }
  Napi::Function on_event = optional_callback(info, 1, "tune: onEvent");
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  auto* worker = new TuneWorker(env, std::move(images), std::move(opt), cancel, on_event);
  Napi::Object run = cancellable_run(env, worker->promise(), cancel);
  worker->Queue();
  return run;
}

}  // namespace

void register_tuning_exports(Napi::Env env, Napi::Object exports) {
  exports.Set("tune", Napi::Function::New(env, Tune));
}

}  // namespace dimba_addon
