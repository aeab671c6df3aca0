// A quality-tuning run (tuning_run.h): dataset preparation and its cache, the validation
// split, the training session, and what happens at each save.
// defines: run_tuning, tuning_checkpoint_path, tuning_phase_name
#include "tuning/tuning_run.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"
#include "io/load_checkpoint.h"
#include "io/safetensors.h"
#include "models/t5_encoder.h"
#include "models/vae.h"
#include "pipeline/manifest.h"
#include "pipeline/text_to_image.h"
#include "text/tokenizer.h"
#include "tuning/image_prep.h"
#include "tuning/variant.h"

namespace dimba {
namespace fs = std::filesystem;

const char* tuning_phase_name(TuningPhase p) {
  switch (p) {
    case TuningPhase::Preparing: return "preparing";
    case TuningPhase::Training: return "training";
    case TuningPhase::Sampling: return "sampling";
  }
  return "?";
}

std::string tuning_checkpoint_path(const std::string& run_dir, int64_t step) {
  char name[48];
  std::snprintf(name, sizeof name, "step-%06lld.safetensors", static_cast<long long>(step));
  return (fs::path(run_dir) / "checkpoints" / name).string();
}

namespace {

[[noreturn]] void invalid(const std::string& m) { throw EngineError(ErrorCode::InvalidArgument, "tuning: " + m); }

// Everything the checks can find before a model file is opened.
void check_inputs(const std::vector<TuningImage>& images, const TuningOptions& o, int resolution) {
  if (int(images.size()) < std::max(1, o.min_images))
    invalid(std::to_string(images.size()) + " images; at least " + std::to_string(std::max(1, o.min_images)) +
            " are needed");
  for (size_t i = 0; i < images.size(); ++i) {
    const TuningImage& im = images[i];
    const std::string who = "image " + std::to_string(i) + ": ";
    if (im.width <= 0 || im.height <= 0 || im.rgb.size() != size_t(im.width) * im.height * 3)
      invalid(who + "pixels do not match its size");
    if (im.width < resolution || im.height < resolution)
      invalid(who + std::to_string(im.width) + "x" + std::to_string(im.height) + " is smaller than the model's " +
              std::to_string(resolution) + " px");
  }
  if (o.run_dir.empty()) invalid("run_dir is empty");
  if (o.preview_prompts.size() != o.preview_seeds.size()) invalid("one preview seed per preview prompt");
  if (!(o.validation_fraction >= 0.0 && o.validation_fraction < 1.0)) invalid("validation fraction must be in [0, 1)");
  if (o.validation_draws < 1) invalid("validation draws must be >= 1");
  if (o.train.save_every < 0) invalid("save_every must be >= 0");
}

// What the cached items were made from: the model, the transform's size, every caption and pixel.
std::string dataset_key(const std::vector<TuningImage>& images, const ModelManifest& m) {
  std::string bytes = m.hash + "|" + std::to_string(m.resolution) + "|";
  for (const TuningImage& im : images) {
    bytes += std::to_string(im.width) + "x" + std::to_string(im.height) + ":" + im.caption + "|";
    bytes += fnv1a64_hex(std::string(im.rgb.begin(), im.rgb.end()));
  }
  return fnv1a64_hex(bytes);
}

// The cached items, or none when the cache is missing or was made from other inputs.
std::vector<TrainItem> read_cache(const std::string& path, const std::string& key, const DimbaConfig& cfg, size_t n) {
  std::vector<TrainItem> items;
  if (!fs::exists(path)) return items;
  Checkpoint ck = load_safetensors(path);
  auto k = ck.metadata.find("key");
  const TensorEntry *lat = ck.find("latent"), *txt = ck.find("text"), *len = ck.find("len");
  const int C = cfg.in_channels, L = cfg.model_max_length, D = cfg.caption_channels;
  if (!lat || lat->shape.size() != 4 || lat->shape[2] != lat->shape[3]) return items;
  const size_t S = size_t(lat->shape[2]);
  if (k == ck.metadata.end() || k->second != key || !txt || !len || lat->dtype != DType::F32 ||
      txt->dtype != DType::F32 || len->dtype != DType::F32 ||
      lat->nbytes != n * C * S * S * sizeof(float) || txt->nbytes != n * L * D * sizeof(float) ||
      len->nbytes != n * sizeof(float))
    return items;
  const float *pl = reinterpret_cast<const float*>(lat->data), *pt = reinterpret_cast<const float*>(txt->data),
              *pn = reinterpret_cast<const float*>(len->data);
  for (size_t i = 0; i < n; ++i) {
    TrainItem it;
    it.latent.assign(pl + i * C * S * S, pl + (i + 1) * C * S * S);
    it.text.assign(pt + i * L * D, pt + (i + 1) * L * D);
    it.height = it.width = int(S);
    it.text_len = int(pn[i]);
    items.push_back(std::move(it));
  }
  return items;
}

void write_cache(const std::string& path, const std::string& key, const std::vector<TrainItem>& items,
                 const DimbaConfig& cfg) {
  const int64_t n = int64_t(items.size()), C = cfg.in_channels, L = cfg.model_max_length, D = cfg.caption_channels;
  const int64_t S = items.at(0).height;
  std::vector<float> lat, txt, len;
  for (const TrainItem& it : items) {
    lat.insert(lat.end(), it.latent.begin(), it.latent.end());
    txt.insert(txt.end(), it.text.begin(), it.text.end());
    len.push_back(float(it.text_len));
  }
  save_safetensors(path,
                   {{"latent", {DType::F32, {n, C, S, S}, lat.data()}},
                    {"text", {DType::F32, {n, L, D}, txt.data()}},
                    {"len", {DType::F32, {n}, len.data()}}},
                   {{"format", "dimba-tuning-dataset"}, {"key", key}});
}

// Images -> items: the transform, the VAE encoder (latent models), T5 once per distinct caption.
std::vector<TrainItem> prepare_items(const std::vector<TuningImage>& images, const ModelManifest& m,
                                     const TuningHooks& hooks) {
  const DimbaConfig& cfg = m.dimba;
  const int R = m.resolution, L = cfg.model_max_length, n = int(images.size());
  std::unique_ptr<VaeModel> vae;
  if (!m.pixel_space) vae = std::make_unique<VaeModel>(VaeModel::load_folder(m.vae_folder, DType::F32));
  const int f = vae ? vae->config().downscale() : 1, S = R / f;
  Tokenizer tok = Tokenizer::load(m.tokenizer);
  T5Encoder t5 = T5Encoder::load_pretrained(m.t5_folder, T5WeightFormat::F32);
  const int D = t5.config().d_model;
  if (D != cfg.caption_channels) throw EngineError(ErrorCode::ModelMismatch, "tuning: T5 d_model != caption_channels");
  std::map<std::string, std::pair<std::vector<float>, int>> text;  // caption -> (L x D, tokens)
  std::vector<TrainItem> items(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    if (hooks.cancel && hooks.cancel->load()) throw EngineError(ErrorCode::Cancelled, "tuning cancelled");
    const TuningImage& im = images[size_t(i)];
    std::vector<float> px = prepare_image(im.rgb.data(), im.width, im.height, R);
    TrainItem& it = items[size_t(i)];
    it.height = it.width = S;
    if (vae) {
      const int C = vae->config().latent_channels;
      std::vector<float> mean(size_t(C) * S * S), sd(mean.size());
      vae->encode(mean.data(), sd.data(), px.data(), 1, R, R);
      for (float& v : mean) v = float(v * vae->config().scaling_factor);
      it.latent = std::move(mean);
    } else {
      it.latent = std::move(px);
    }
    auto found = text.find(im.caption);
    if (found == text.end()) {
      const T5Tokens t = tok.encode_t5(im.caption, L);
      std::vector<float> out(size_t(L) * D);
      t5.forward(out.data(), t.ids.data(), t.mask.data(), 1, L);
      int len = 0;
      for (int32_t v : t.mask) len += v != 0;
      found = text.emplace(im.caption, std::make_pair(std::move(out), len)).first;
    }
    it.text = found->second.first;
    it.text_len = found->second.second;
    if (hooks.on_phase) hooks.on_phase(TuningPhase::Preparing, i + 1, n);
  }
  return items;
}

// The validation loss's draws: their own stream, the same at every save.
const uint64_t kValidationSalt = 0x56414C4944415445ull;

uint64_t mix64(uint64_t x) {  // splitmix64's finaliser
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The held-out images: a seeded choice of round(fraction * n) of them (at least one when the
// fraction is positive and there are >= 4 images; none below that, too few to spare).
std::vector<bool> validation_split(int n, double fraction, uint64_t seed) {
  std::vector<bool> held(static_cast<size_t>(n), false);
  if (fraction <= 0.0 || n < 4) return held;
  const int k = std::max(1, int(std::lround(fraction * n)));
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (int i = n - 1; i > 0; --i) {  // Fisher-Yates with draws keyed by (seed, i)
    const int j = int(mix64(seed ^ mix64(uint64_t(i))) % uint64_t(i + 1));
    std::swap(order[size_t(i)], order[size_t(j)]);
  }
  for (int i = 0; i < k; ++i) held[size_t(order[size_t(i)])] = true;
  return held;
}

std::vector<TuningSample> sample(Pipeline& p, const TuningOptions& o, const TuningHooks& hooks) {
  std::vector<TuningSample> out;
  Recipe r = p.default_recipe();
  if (o.preview_steps > 0) r.steps = o.preview_steps;
  if (o.preview_guidance > 0) r.guidance = o.preview_guidance;
  GenerateHooks gh;
  gh.cancel = hooks.cancel;
  for (size_t i = 0; i < o.preview_prompts.size(); ++i) {
    r.prompt = o.preview_prompts[i];
    r.seed = o.preview_seeds[i];
    GenerateResult g = p.generate(r, gh);
    GeneratedImage& im = g.images.at(0);
    out.push_back({r.prompt, r.seed, im.width, im.height, std::move(im.rgb)});
  }
  return out;
}

}  // namespace

TuningResult run_tuning(const std::vector<TuningImage>& images, const TuningOptions& opt, const TuningHooks& hooks) {
  const ModelManifest m = load_manifest(opt.manifest);
  check_inputs(images, opt, m.resolution);
  fs::create_directories(fs::path(opt.run_dir) / "checkpoints");
  TuningResult res;
  try {
    // 1. The dataset, from the cache when it was made from these very inputs.
    const std::string cache_path = (fs::path(opt.run_dir) / "dataset.safetensors").string();
    const std::string key = dataset_key(images, m);
    std::vector<TrainItem> all = read_cache(cache_path, key, m.dimba, images.size());
    if (all.empty()) {
      all = prepare_items(images, m, hooks);
      write_cache(cache_path, key, all, m.dimba);
    } else if (hooks.on_phase) {
      hooks.on_phase(TuningPhase::Preparing, int(images.size()), int(images.size()));
    }
    const std::vector<bool> held = validation_split(int(all.size()), opt.validation_fraction, opt.train.seed);
    std::vector<TrainItem> train, val;
    for (size_t i = 0; i < all.size(); ++i) (held[i] ? val : train).push_back(std::move(all[i]));
    res.train_images = int(train.size());
    res.validation_images = int(val.size());

    // 2. The session, resumed from the last save when there is one.
    ParamSet base = ParamSet::from_checkpoint(load_checkpoint(m.dimba_weights), m.dimba);
    TrainOptions to = opt.train;
    to.state_path = (fs::path(opt.run_dir) / "state.safetensors").string();
    to.preview_every = to.save_every;
    TrainSession session(m.dimba, to.use_lora ? base : std::move(base), to);
    if (opt.resume && fs::exists(to.state_path)) session.load_state(to.state_path);
    res.resumed_from = res.step = session.step();
    if (!val.empty()) {
      res.start_validation_loss = session.eval_loss(val, opt.train.seed ^ kValidationSalt, opt.validation_draws);
      if (hooks.on_start_validation) hooks.on_start_validation(res.start_validation_loss);
    }

    // 3. The base model's samples, once.
    Pipeline pipe;
    if (!opt.preview_prompts.empty()) {
      PipelineOptions po;
      po.weights = DType::F32;
      pipe = Pipeline::load(m, po);
      if (hooks.on_phase) hooks.on_phase(TuningPhase::Sampling, 0, int(opt.preview_prompts.size()));
      std::vector<TuningSample> s = sample(pipe, opt, hooks);
      if (hooks.on_base_samples) hooks.on_base_samples(s);
    }

    double loss_sum = 0;
    int loss_n = 0;
    auto save_checkpoint = [&](TrainSession& s, bool with_samples) {
      TuningCheckpoint c;
      c.step = s.step();
      c.path = tuning_checkpoint_path(opt.run_dir, c.step);
      if (s.lora()) s.lora()->save(c.path);
      else save_full_variant(c.path, s.params(), c.step);
      c.train_loss = loss_n ? loss_sum / loss_n : 0.0;
      loss_sum = 0;
      loss_n = 0;
      if (!val.empty()) c.validation_loss = s.eval_loss(val, opt.train.seed ^ kValidationSalt, opt.validation_draws);
      if (with_samples && !pipe.empty()) {
        if (hooks.on_phase) hooks.on_phase(TuningPhase::Sampling, 0, int(opt.preview_prompts.size()));
        ParamSet tuned = s.lora() ? base : s.params();
        if (s.lora()) s.lora()->merge_into(tuned, 1.0);
        pipe.set_dimba(dimba_from_params(tuned, m.dimba, DType::F32));
        c.samples = sample(pipe, opt, hooks);
      }
      if (hooks.on_checkpoint) hooks.on_checkpoint(c);
      res.checkpoints.push_back(std::move(c));
      if (hooks.on_phase) hooks.on_phase(TuningPhase::Training, int(s.step()), int(to.steps));
    };
    // A state saved just before a stop that came before its variant was written.
    if (res.resumed_from > 0 && !fs::exists(tuning_checkpoint_path(opt.run_dir, res.resumed_from)))
      save_checkpoint(session, false);

    // 4. Training; a checkpoint at every save and at the last step.
    if (hooks.on_phase) hooks.on_phase(TuningPhase::Training, int(session.step()), int(to.steps));
    session.run(
        train,
        [&](const TrainProgress& p) {
          loss_sum += p.loss;
          ++loss_n;
          res.step = p.step;  // kept current: a cancel during sampling still reports it
          if (hooks.on_progress) hooks.on_progress(p);
        },
        hooks.cancel, [&](const TrainSession&) { save_checkpoint(session, true); });
    const bool stopped = hooks.cancel && hooks.cancel->load();
    if (!stopped && session.step() == to.steps && session.step() > res.resumed_from &&
        (to.save_every <= 0 || session.step() % to.save_every != 0)) {
      session.save_state(to.state_path);
      save_checkpoint(session, true);
    }
    res.step = session.step();
    res.cancelled = stopped;
  } catch (const EngineError& e) {
    if (e.code != ErrorCode::Cancelled) throw;
    res.cancelled = true;
  }
  return res;
}

}  // namespace dimba
