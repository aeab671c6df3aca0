// The studio's main job (../shared/spec/MODEL.md section 1): a Pipeline loads a model's parts
// once and turns Recipes into 8-bit RGB images.
//
//   prompt, negative -> T5 tokens -> T5 encoder, through the embedding cache
//   noise [4, H/8, W/8] from the engine's counter-based RNG (image k: seed + k, offset 0)
//   -> sampler (DPM-Solver++ / DDIM / Euler) with classifier-free guidance: ONE Dimba call per
//      step on the batch [uncond; cond]
//   -> latents / scaling_factor -> VAE decode -> clamp [-1, 1] -> uint8
//   (pixel space, a manifest with "vae": null: the sampled [3, H, W] is the image, no decode)
//
// Text masks under guidance (MODEL.md 2.6, quirk): with no negative prompt the unconditional
// half is the null caption (the empty string's encoding) and reuses the PROMPT's mask, so it
// attends to as many tokens as the prompt has (</s> and then T5's outputs at padding
// positions), exactly as the reference. With a negative prompt, the unconditional half is
// the negative's encoding under its OWN mask: the quirk exists only because the reference
// repeats one mask tensor over the doubled batch, and cutting a negative prompt to the
// prompt's length (or padding it out) would silently drop or dilute the words a user typed.
//
// Images of a count run one after another on a batch of 2, never as one batch of 2N: image k
// is then bit-identical to a count-1 run with seed + k (GEMM blocking depends on the batch),
// and memory does not grow with the count.
//
// Determinism: every op is a fixed-order reduction, noise is counter-based, so the same
// recipe gives the same pixels on the same backend. Cancellation: checked before every model
// call (so a request made during step i stops before step i+1's call), before the text
// encoder and before each decode; it throws EngineError(Cancelled). A decode in progress runs
// to its end (seconds at 512 px).
//
// Threads: generate() serialises callers (the models hold one activation arena each); callbacks
// run on the calling thread.
// defines: PipelineOptions, PipelineStage, PreviewImage, GenerateProgress, ModelCallInfo,
//          GenerateHooks, StageTimes, GenerateResult, PipelineModelInfo, Pipeline, PlacedTextEncoder,
//          load_text_encoder
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "models/dimba.h"
#include "models/t5_encoder.h"
#include "models/vae.h"
#include "pipeline/manifest.h"
#include "pipeline/recipe.h"
#include "sampling/sampler.h"
#include "text/tokenizer.h"

namespace dimba {

struct PipelineOptions {
  DType weights = DType::BF16;  // Dimba and VAE weights (F32 or BF16); T5 follows unless set
  bool t5_int8 = false;         // T5 weights quantised to int8 at load (XXL: 4.8 GB instead of 9.5)
  size_t embedding_cache_bytes = size_t(64) << 20;
  // "auto", "cpu", "vulkan" or "cuda" (backend/select.h): every model runs there (T5 may move
  // to the CPU, see load_text_encoder and Pipeline::generate); a backend that is not available
  // throws EngineError(BackendUnavailable).
  std::string backend = "cpu";
  // A backend table of the caller's own, used instead of `backend` where set (tests: a device
  // with a byte budget).
  const Backend* device = nullptr;
  // On CUDA, replay each image's denoising forward from a graph (pipeline/graphed_forward.h;
  // the same pixels either way). Off: one plain forward per step.
  bool cuda_graphs = true;
};

enum class PipelineStage { Text, Sampling, Decoding };

struct PreviewImage {
  int width = 0, height = 0;  // the latent's size (image / 8)
  std::vector<uint8_t> rgb;   // (height, width, 3)
};

struct GenerateProgress {
  PipelineStage stage;
  int image = 0;   // 0..count-1
  int count = 1;
  int step = 0;    // Sampling: 1..steps after the step; else 0
  int steps = 0;
  const PreviewImage* preview = nullptr;  // Sampling, every preview_every steps; else null
};

// One Dimba call as the pipeline makes it (for tests and diagnostics): the doubled batch.
struct ModelCallInfo {
  double t_input = 0;        // (t - 1/N) * 1000, the same for both halves
  int batch = 0;             // 2: [uncond; cond]
  const float* x = nullptr;  // (batch, Cin, h, w)
  const float* y = nullptr;  // (batch, 1, L, Ccap)
  const int* y_lens = nullptr;  // (batch) text tokens attended per half
  int L = 0, caption_channels = 0, h = 0, w = 0;
};

struct GenerateHooks {
  // Progress per stage and sampler step; returning Cancel stops the run before the next model
  // call (EngineError(Cancelled)).
  std::function<StepAction(const GenerateProgress&)> on_progress;
  const std::atomic<bool>* cancel = nullptr;  // set from any thread
  std::function<void(const ModelCallInfo&)> on_model_call;
};

struct StageTimes {  // seconds, summed over the images of a call
  double text = 0, sampling = 0, decode = 0;
};

struct GenerateResult {
  std::vector<GeneratedImage> images;  // count of them, seeds seed..seed+count-1
  StageTimes times;
};

// What identifies the loaded model in a recipe.
struct PipelineModelInfo {
  std::string id, name;
  std::string manifest_hash;   // ModelManifest::hash
  std::string tokenizer_hash;  // Tokenizer::content_hash()
  std::string t5_weights_id;   // T5Encoder::weights_id()
  std::string weights;         // "bf16" / "f32" (Dimba and VAE)
  std::string backend = "cpu";  // the backend the models run on
  std::string backend_reason;   // why (backend/select.h: what auto found)
  ManifestDefaults defaults;
  int resolution = 512;
};

class Pipeline {
 public:
  Pipeline();  // empty: generate() throws InvalidArgument ("model")
  ~Pipeline();
  Pipeline(Pipeline&&) noexcept;
  Pipeline& operator=(Pipeline&&) noexcept;

  // Loads every part the manifest names. Errors: those of the readers and loaders (Io, BadFile,
  // ModelMismatch, ...), ModelMismatch when the parts do not fit together (T5 d_model vs Dimba
  // caption_channels, Dimba in_channels vs VAE latent channels, tokenizer vocabulary vs T5's),
  // InvalidArgument for bad options.
  static Pipeline load(const ModelManifest& manifest, const PipelineOptions& options = {});
  // Parts built by the caller (benchmarks: random weights never written to disk).
  static Pipeline from_parts(PipelineModelInfo info, Tokenizer tokenizer, T5Encoder t5, DimbaModel dimba,
                             VaeModel vae, size_t embedding_cache_bytes = size_t(64) << 20);
  // A pixel-space model: the Dimba samples RGB directly (in_channels 3, else ModelMismatch).
  static Pipeline from_parts_pixel_space(PipelineModelInfo info, Tokenizer tokenizer, T5Encoder t5, DimbaModel dimba,
                                         size_t embedding_cache_bytes = size_t(64) << 20);

  // Runs a recipe. Throws InvalidArgument naming the bad recipe field (or "model" for an empty
  // pipeline), Cancelled, or what the models throw. Where the device runs out of memory with T5
  // loaded on it (a large image's activations beside T5-XXL's 9.5 GB), T5 moves to the CPU for
  // good, freeing its weights there, and the recipe runs again from its start (progress starts
  // over); a second OutOfMemory is thrown.
  GenerateResult generate(const Recipe& recipe, const GenerateHooks& hooks = {});

  // Swaps in other Dimba weights of the same architecture (a tuned checkpoint, a variant
  // merged at a strength) keeping the text encoder, VAE and embedding cache. Waits for a running
  // generate(). Throws ModelMismatch when the config's channels, patch or text length differ.
  void set_dimba(DimbaModel dimba);

  bool empty() const { return !s_; }
  RecipeLimits limits() const;
  const PipelineModelInfo& info() const;
  // The manifest's defaults as a recipe (prompt empty, seed 0).
  Recipe default_recipe() const;

  struct State;

 private:
  static Pipeline from_parts_optional_vae(PipelineModelInfo info, Tokenizer tokenizer, T5Encoder t5, DimbaModel dimba,
                                         std::optional<VaeModel> vae, size_t embedding_cache_bytes);
  std::unique_ptr<State> s_;
};

const char* pipeline_stage_name(PipelineStage s);  // "text", "sampling", "decoding"

// The text encoder of `folder` on `device`, or on the CPU where `device` runs out of memory
// loading it: T5-XXL is 9.5 GB in bf16, which beside Dimba-L few GPUs hold (Pipeline::load
// loads Dimba and the VAE first, as they must run on the device). Its embeddings are host data
// either way (cached by prompt), so only the text stage's speed depends on where it runs.
// `note` is empty on the device, else says that T5 runs on the CPU and why.
struct PlacedTextEncoder {
  T5Encoder t5;
  const Backend* backend;
  std::string note;
};
PlacedTextEncoder load_text_encoder(const std::string& folder, T5WeightFormat format, const Backend& device);

}  // namespace dimba
