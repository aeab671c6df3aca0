// The text-to-image pipeline: loading a manifest's parts and running recipes (text_to_image.h
// says what each stage does and why the masks, seeds and batching are as they are).
// defines: Pipeline, pipeline_stage_name, load_text_encoder
#include "pipeline/text_to_image.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>

#include "backend/select.h"
#include "core/error.h"
#include "core/rng.h"
#include "io/load_checkpoint.h"
#include "pipeline/graphed_forward.h"
#include "sampling/cfg.h"
#include "sampling/schedule.h"
#include "text/embedding_cache.h"

namespace dimba {

struct Pipeline::State {
  PipelineModelInfo info;
  Tokenizer tokenizer;
  T5Encoder t5;
  DimbaModel dimba;
  std::optional<VaeModel> vae;  // empty: pixel space (the Dimba's input is the RGB image)
  EmbeddingCache cache;
  PromptEncoder prompts;  // references tokenizer, t5 and cache above (State never moves)
  std::mutex mu;          // one generate() at a time: each model has one activation arena
  bool cuda_graphs = true;  // PipelineOptions::cuda_graphs
  // Where T5 came from while it is on a device (Pipeline::load), so that generate() can reload
  // it on the CPU; empty on the CPU or for parts built by the caller.
  std::string t5_folder;
  T5WeightFormat t5_format = T5WeightFormat::F32;

  State(PipelineModelInfo i, Tokenizer tok, T5Encoder enc, DimbaModel d, std::optional<VaeModel> v, size_t cache_bytes)
      : info(std::move(i)), tokenizer(std::move(tok)), t5(std::move(enc)), dimba(std::move(d)), vae(std::move(v)),
        cache(cache_bytes), prompts(tokenizer, t5, cache, dimba.config().model_max_length) {}
};

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

[[noreturn]] void mismatch(const std::string& msg) { throw EngineError(ErrorCode::ModelMismatch, msg); }

// The parts must fit together before any recipe runs; a mismatch here is a manifest pointing
// at parts of different models.
void check_parts(const Tokenizer& tok, const T5Encoder& t5, const DimbaModel& dimba, const VaeModel* vae) {
  const DimbaConfig& dc = dimba.config();
  if (t5.config().d_model != dc.caption_channels)
    mismatch("the text encoder's d_model (" + std::to_string(t5.config().d_model) +
             ") is not the Dimba config's caption_channels (" + std::to_string(dc.caption_channels) + ")");
  if (!vae && dc.in_channels != 3)
    mismatch("a pixel-space model (no VAE) needs a Dimba with in_channels 3 (RGB), not " +
             std::to_string(dc.in_channels));
  if (vae && vae->config().latent_channels != dc.in_channels)
    mismatch("the VAE's latent_channels (" + std::to_string(vae->config().latent_channels) +
             ") is not the Dimba config's in_channels (" + std::to_string(dc.in_channels) + ")");
  if (tok.vocab_size() > t5.config().vocab_size)
    mismatch("the tokenizer's vocabulary (" + std::to_string(tok.vocab_size()) +
             " pieces) is larger than the text encoder's (" + std::to_string(t5.config().vocab_size) + ")");
  if (vae && vae->config().out_channels != 3)
    mismatch("the VAE decodes to " + std::to_string(vae->config().out_channels) + " channels, not RGB");
  if (dc.out_channels < dc.in_channels) mismatch("the Dimba config's out_channels is smaller than in_channels");
}

void check_cancel(const GenerateHooks& h) {
  if (h.cancel && h.cancel->load()) throw EngineError(ErrorCode::Cancelled, "generation cancelled");
}

StepAction report(const GenerateHooks& h, const GenerateProgress& p) {
  return h.on_progress ? h.on_progress(p) : StepAction::Continue;
}

}  // namespace

PlacedTextEncoder load_text_encoder(const std::string& folder, T5WeightFormat format, const Backend& device) {
  try {
    return {T5Encoder::load_pretrained(folder, format, device), &device, ""};
  } catch (const EngineError& e) {
    if (e.code != ErrorCode::OutOfMemory || &device == &cpu_backend()) throw;
    return {T5Encoder::load_pretrained(folder, format, cpu_backend()), &cpu_backend(),
            std::string("the text encoder on cpu (") + device.name + " has no room for it: " + e.what() + ")"};
  }
}

const char* pipeline_stage_name(PipelineStage s) {
  switch (s) {
    case PipelineStage::Text: return "text";
    case PipelineStage::Sampling: return "sampling";
    case PipelineStage::Decoding: return "decoding";
  }
  return "?";
}

Pipeline::Pipeline() = default;
Pipeline::~Pipeline() = default;
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;

Pipeline Pipeline::from_parts(PipelineModelInfo info, Tokenizer tokenizer, T5Encoder t5, DimbaModel dimba,
                              VaeModel vae, size_t embedding_cache_bytes) {
  return from_parts_optional_vae(std::move(info), std::move(tokenizer), std::move(t5), std::move(dimba),
                                 std::optional<VaeModel>(std::move(vae)), embedding_cache_bytes);
}

Pipeline Pipeline::from_parts_pixel_space(PipelineModelInfo info, Tokenizer tokenizer, T5Encoder t5, DimbaModel dimba,
                                          size_t embedding_cache_bytes) {
  return from_parts_optional_vae(std::move(info), std::move(tokenizer), std::move(t5), std::move(dimba), std::nullopt,
                                 embedding_cache_bytes);
}

Pipeline Pipeline::from_parts_optional_vae(PipelineModelInfo info, Tokenizer tokenizer, T5Encoder t5,
                                           DimbaModel dimba, std::optional<VaeModel> vae,
                                           size_t embedding_cache_bytes) {
  check_parts(tokenizer, t5, dimba, vae ? &*vae : nullptr);
  info.tokenizer_hash = tokenizer.content_hash();
  info.t5_weights_id = t5.weights_id();
  Pipeline p;
  p.s_ = std::make_unique<State>(std::move(info), std::move(tokenizer), std::move(t5), std::move(dimba),
                                 std::move(vae), embedding_cache_bytes);
  return p;
}

Pipeline Pipeline::load(const ModelManifest& m, const PipelineOptions& opt) {
  if (opt.weights != DType::F32 && opt.weights != DType::BF16)
    throw EngineError(ErrorCode::InvalidArgument, "weights must be f32 or bf16 (f16 overflows in T5 and the VAE)");
  BackendChoice be;
  if (opt.device) {
    be.backend = opt.device;
    be.reason = std::string(opt.device->name) + ": the caller's";
  } else {
    be = choose_backend(opt.backend);
  }
  Tokenizer tok = Tokenizer::load(m.tokenizer);
  DimbaModel dimba;
  {
    Checkpoint ck = load_checkpoint(m.dimba_weights);  // the model keeps what it uses in place
    dimba = DimbaModel::load(ck, m.dimba, opt.weights, *be.backend);
  }
  std::optional<VaeModel> vae;
  if (!m.pixel_space) vae = VaeModel::load_folder(m.vae_folder, opt.weights, *be.backend);
  const T5WeightFormat t5f =
      opt.t5_int8 ? T5WeightFormat::Int8 : opt.weights == DType::BF16 ? T5WeightFormat::BF16 : T5WeightFormat::F32;
  PlacedTextEncoder text = load_text_encoder(m.t5_folder, t5f, *be.backend);
  PipelineModelInfo info;
  info.backend = be.backend->name;
  info.backend_reason = text.note.empty() ? be.reason : be.reason + "; " + text.note;
  info.id = m.id;
  info.name = m.name;
  info.manifest_hash = m.hash;
  info.weights = opt.weights == DType::BF16 ? "bf16" : "f32";
  info.defaults = m.defaults;
  info.resolution = m.resolution;
  Pipeline p = from_parts_optional_vae(std::move(info), std::move(tok), std::move(text.t5), std::move(dimba),
                                      std::move(vae), opt.embedding_cache_bytes);
  p.s_->cuda_graphs = opt.cuda_graphs;
  if (text.backend != &cpu_backend()) {
    p.s_->t5_folder = m.t5_folder;
    p.s_->t5_format = t5f;
  }
  return p;
}

void Pipeline::set_dimba(DimbaModel dimba) {
  if (!s_) throw EngineError(ErrorCode::InvalidArgument, "model: the pipeline holds no model");
  std::lock_guard<std::mutex> lock(s_->mu);
  const DimbaConfig &a = s_->dimba.config(), &b = dimba.config();
  if (a.in_channels != b.in_channels || a.out_channels != b.out_channels || a.patch_size != b.patch_size ||
      a.caption_channels != b.caption_channels || a.model_max_length != b.model_max_length)
    mismatch("set_dimba: the new weights' config differs from the loaded model's");
  s_->dimba = std::move(dimba);
}

RecipeLimits Pipeline::limits() const {
  RecipeLimits lim;
  if (s_) lim.size_multiple = (s_->vae ? s_->vae->config().downscale() : 1) * s_->dimba.config().patch_size;
  lim.max_steps = DiscreteVpSchedule::dimba().n();
  return lim;
}

const PipelineModelInfo& Pipeline::info() const {
  if (!s_) throw EngineError(ErrorCode::InvalidArgument, "model: the pipeline holds no model");
  return s_->info;
}

Recipe Pipeline::default_recipe() const {
  const ManifestDefaults& d = info().defaults;
  Recipe r;
  r.steps = d.steps;
  r.guidance = d.guidance;
  r.sampler = d.sampler;
  r.width = d.width;
  r.height = d.height;
  return r;
}

namespace {

// generate()'s work, under its lock: text, sampling and decoding for each image of the recipe.
GenerateResult run_recipe(Pipeline::State& s, const Recipe& r, const GenerateHooks& hooks) {
  const SamplerKind kind = parse_sampler_kind(r.sampler);
  const DiscreteVpSchedule& schedule = DiscreteVpSchedule::dimba();
  const DimbaConfig& dc = s.dimba.config();
  const int f = s.vae ? s.vae->config().downscale() : 1;
  const int h = r.height / f, w = r.width / f;
  const int Cin = dc.in_channels, Cout = dc.out_channels, L = dc.model_max_length, D = dc.caption_channels;
  const size_t in_per = size_t(Cin) * size_t(h) * size_t(w), out_per = size_t(Cout) * size_t(h) * size_t(w);
  GenerateResult result;

  // --- text: the prompt and the unconditional caption, each through the cache ---
  check_cancel(hooks);
  if (report(hooks, {PipelineStage::Text, 0, r.count, 0, r.steps, nullptr}) == StepAction::Cancel)
    throw EngineError(ErrorCode::Cancelled, "generation cancelled");
  double t0 = now_s();
  std::shared_ptr<const PromptEmbedding> cond = s.prompts.encode(r.prompt);
  std::shared_ptr<const PromptEmbedding> uncond = s.prompts.encode(r.negative_prompt);
  DIMBA_CHECK(cond->L == L && cond->D == D && uncond->L == L && uncond->D == D);
  // MODEL.md 2.6: the null caption reuses the prompt's mask; a negative prompt keeps its own.
  const int cond_len = cond->length();
  const int uncond_len = r.negative_prompt.empty() ? cond_len : uncond->length();
  const int y_lens[2] = {uncond_len, cond_len};
  std::vector<float> y2(size_t(2) * size_t(L) * size_t(D));  // (2, 1, L, D): [uncond; cond]
  std::memcpy(y2.data(), uncond->y.data(), size_t(L) * size_t(D) * sizeof(float));
  std::memcpy(y2.data() + size_t(L) * size_t(D), cond->y.data(), size_t(L) * size_t(D) * sizeof(float));
  result.times.text += now_s() - t0;

  // The doubled-batch network call the guidance wraps; on CUDA replayed from a graph that lives
  // for one image's sampling (the decode may grow op scratch the graph points into).
  std::unique_ptr<GraphedForward> graphed;
  std::vector<float> t2(2);
  GuidedModelFn<float> model = [&](const std::vector<float>& in2, double t_input, std::vector<float>& out2) {
    t2[0] = t2[1] = float(t_input);
    out2.resize(2 * out_per);
    if (hooks.on_model_call) {
      ModelCallInfo mc;
      mc.t_input = t_input;
      mc.batch = 2;
      mc.x = in2.data();
      mc.y = y2.data();
      mc.y_lens = y_lens;
      mc.L = L;
      mc.caption_channels = D;
      mc.h = h;
      mc.w = w;
      hooks.on_model_call(mc);
    }
    if (graphed)
      graphed->forward(out2.data(), in2.data(), t2.data());
    else
      s.dimba.forward(out2.data(), in2.data(), t2.data(), y2.data(), y_lens, 2, h, w, L);
  };
  DenoiseFn denoise = make_cfg_denoiser<float>(model, 1, in_per, out_per, r.guidance);

  std::vector<float> noise(in_per), latent(in_per);
  std::vector<float> image(size_t(3) * size_t(r.height) * size_t(r.width));
  PreviewImage preview;
  for (int k = 0; k < r.count; ++k) {
    const uint64_t seed = r.seed + uint64_t(k);
    check_cancel(hooks);

    // --- sampling ---
    t0 = now_s();
    fill_normal(noise.data(), in_per, seed, 0);
    std::vector<double> x(noise.begin(), noise.end());
    SamplerHooks sh;
    sh.denoise = denoise;
    sh.cancel = hooks.cancel;
    sh.on_step = [&](const StepInfo& si) {
      const PreviewImage* pv = nullptr;
      // The preview map is fitted to 4-channel SDXL latents; other latent spaces get none.
      // In pixel space the x0 estimate is the preview itself.
      if (r.preview_every > 0 && si.step % r.preview_every == 0 && (Cin == 4 || !s.vae)) {
        for (size_t i = 0; i < in_per; ++i) latent[i] = float(si.x0[i]);
        preview.width = w;
        preview.height = h;
        preview.rgb.resize(size_t(3) * size_t(h) * size_t(w));
        if (s.vae)
          vae_latent_preview_rgb8(preview.rgb.data(), latent.data(), h, w);
        else
          image_to_rgb8(preview.rgb.data(), latent.data(), h, w);
        pv = &preview;
      }
      return report(hooks, {PipelineStage::Sampling, k, r.count, si.step, si.total, pv});
    };
    if (s.cuda_graphs) graphed = GraphedForward::create(s.dimba, y2.data(), y_lens, h, w, L);
    run_sampler(kind, schedule, r.steps, x, sh);
    graphed.reset();
    result.times.sampling += now_s() - t0;

    // --- decoding ---
    check_cancel(hooks);
    if (report(hooks, {PipelineStage::Decoding, k, r.count, 0, r.steps, nullptr}) == StepAction::Cancel)
      throw EngineError(ErrorCode::Cancelled, "generation cancelled");
    t0 = now_s();
    for (size_t i = 0; i < in_per; ++i) latent[i] = float(x[i]);
    if (!s.vae) {
      std::memcpy(image.data(), latent.data(), in_per * sizeof(float));  // pixel space: x is the image
    } else {
      vae_unscale_latents(latent.data(), in_per, s.vae->config());
      // Past 1024 px the untiled decoder's activations (and its mid attention over h*w tokens)
      // outgrow a desktop's memory; tiles keep them at one tile's worth.
      if (int64_t(h) * w > int64_t(128) * 128) {
        s.vae->decode_tiled(image.data(), latent.data(), 1, h, w, VaeTiling{});
      } else {
        s.vae->decode(image.data(), latent.data(), 1, h, w);
      }
    }
    GeneratedImage img;
    img.width = r.width;
    img.height = r.height;
    img.seed = seed;
    img.rgb.resize(size_t(3) * size_t(r.width) * size_t(r.height));
    image_to_rgb8(img.rgb.data(), image.data(), r.height, r.width);
    result.times.decode += now_s() - t0;
    result.images.push_back(std::move(img));
  }
  return result;
}

}  // namespace

GenerateResult Pipeline::generate(const Recipe& r, const GenerateHooks& hooks) {
  if (!s_) throw EngineError(ErrorCode::InvalidArgument, "model: the pipeline holds no model; load a manifest first");
  validate_recipe(r, limits());
  State& s = *s_;
  std::lock_guard<std::mutex> lock(s.mu);
  try {
    return run_recipe(s, r, hooks);
  } catch (const EngineError& e) {
    if (e.code != ErrorCode::OutOfMemory || s.t5_folder.empty()) throw;
  }
  // The assignment frees T5's device buffers once its CPU copy is loaded; the prompt encoder
  // refers to s.t5 itself, and the embedding cache's entries stay valid (same weights id).
  s.t5 = T5Encoder::load_pretrained(s.t5_folder, s.t5_format, cpu_backend());
  s.t5_folder.clear();
  return run_recipe(s, r, hooks);
}

}  // namespace dimba
