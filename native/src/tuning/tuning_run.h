// A quality-tuning run (issue 12): a model fine-tuned on a small set of the user's images.
// The dataset (images + captions) is turned once into training items: each image through the
// reference transform (image_prep.h), then the VAE encoder (the posterior mean times the
// scaling factor; a pixel-space model trains on the pixels), each distinct caption through T5;
// the items are cached in the run folder, so a resumed run computes nothing twice. A seeded
// share of the images is held out for a validation loss. Training is training/train_loop.h's
// TrainSession (LoRA by default, or a full fine-tune with CAME). At every save the run writes
// the checkpoint (the adapter, or the full weights, as a variant: variant.h), measures the
// validation loss and samples fixed preview prompts and seeds with the tuned weights; the base
// model's samples for the same prompts and seeds come once at the start.
//
// Run folder: state.safetensors (resume: weights or adapters, optimiser, step),
// dataset.safetensors (the cached items), checkpoints/step-NNNNNN.safetensors (variants).
//
//   TuningResult r = run_tuning(images, opts, hooks);   // until opts.train.steps or cancel
//   ... run_tuning(images, opts, hooks) again resumes from the last saved step
// defines: TuningImage, TuningOptions, TuningPhase, TuningSample, TuningCheckpoint, TuningHooks,
//          TuningResult, run_tuning, tuning_checkpoint_path
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "training/train_loop.h"

namespace dimba {

struct TuningImage {
  std::vector<uint8_t> rgb;  // (height, width, 3) 8-bit, decoded by the caller
  int width = 0, height = 0;
  std::string caption;
};

struct TuningOptions {
  std::string manifest;  // the base model's manifest (pipeline/manifest.h)
  std::string run_dir;   // created if missing
  // steps, batch_size, lr, warmup_steps, optimizer, use_lora + lora, caption_dropout, seed,
  // save_every, checkpointing. state_path and preview_every are set by the run.
  TrainOptions train;
  double validation_fraction = 0.1;  // of the images, at least one when > 0 (needs >= 4 images)
  int validation_draws = 4;          // timesteps per held-out image
  std::vector<std::string> preview_prompts;
  std::vector<uint64_t> preview_seeds;  // one per prompt
  int preview_steps = 0;                // 0: the manifest's defaults
  double preview_guidance = 0.0;        // 0: the manifest's default
  bool resume = true;                   // continue from run_dir/state.safetensors when present
  int min_images = 2;
};

enum class TuningPhase { Preparing, Training, Sampling };
const char* tuning_phase_name(TuningPhase p);  // "preparing", "training", "sampling"

struct TuningSample {
  std::string prompt;
  uint64_t seed = 0;
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // (height, width, 3)
};

struct TuningCheckpoint {
  int64_t step = 0;
  std::string path;              // the variant file
  double train_loss = 0.0;       // mean training loss of the steps since the previous save
  double validation_loss = -1.0; // < 0: no held-out images
  std::vector<TuningSample> samples;
};

struct TuningHooks {
  std::function<void(TuningPhase, int done, int total)> on_phase;
  std::function<void(const TrainProgress&)> on_progress;
  std::function<void(const std::vector<TuningSample>&)> on_base_samples;
  std::function<void(const TuningCheckpoint&)> on_checkpoint;
  // The held-out loss before this call's first step (the baseline the curve is judged against).
  std::function<void(double)> on_start_validation;
  const std::atomic<bool>* cancel = nullptr;  // checked between steps and between samples
};

struct TuningResult {
  int64_t step = 0;          // steps done in total (resumed ones included)
  int64_t resumed_from = 0;  // the saved step this call started from (0: fresh)
  bool cancelled = false;
  int train_images = 0, validation_images = 0;
  double start_validation_loss = -1.0;  // before this call's first step (< 0: no held-out images)
  std::vector<TuningCheckpoint> checkpoints;  // saved by this call, samples included
};

// Errors before any compute: InvalidArgument naming the bad image ("image 3: 20x20 is smaller
// than the model's 32 px") or option; those of the manifest and model loaders. Cancelled is
// not an error: the result says so, and the last save is where the next call resumes.
TuningResult run_tuning(const std::vector<TuningImage>& images, const TuningOptions& opt, const TuningHooks& hooks);

std::string tuning_checkpoint_path(const std::string& run_dir, int64_t step);

}  // namespace dimba
