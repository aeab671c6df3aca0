// The engine's training loop for Dimba (quality tuning, LoRA): a dataset of (latent, text
// embedding, mask) items, steps, batch size, constant learning rate with linear warmup,
// global-norm clipping, CAME or AdamW, caption dropout, optional LoRA and gradient
// checkpointing, a save every N steps, a preview hook every N steps, progress events and
// cancel. Every random draw of step s (batch items, timesteps, noise, dropout) is a pure
// function of (seed, s) through the engine's counter-based Philox RNG, so the state to resume
// is the weights (or adapters), the optimiser moments and the step: a run stopped and
// resumed gives the same weights as an uninterrupted one, bit for bit.
//
//   TrainSession s(cfg, ParamSet::from_checkpoint(ck, cfg), opts);
//   s.run(dataset, on_progress, &cancel);        // until opts.steps or cancel
//   s.save_state(path);  ...  s2.load_state(path); s2.run(...)   // resume
// defines: TrainItem, TrainOptions, TrainProgress, TrainSession, params_of_train_state
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "training/dimba_train.h"
#include "training/lora.h"
#include "training/optim.h"

namespace dimba {

struct TrainItem {
  std::vector<float> latent;  // (Cin, H, W): the VAE latent, already scaled
  int height = 0, width = 0;  // H, W (multiples of the patch size; the same for every item)
  std::vector<float> text;    // (L, Ccap): the T5 embedding, padded to L
  int text_len = 0;           // tokens kept (the mask's sum), 0..L
};

struct TrainOptions {
  int64_t steps = 1000;      // total optimiser steps (the run stops at this step count)
  int batch_size = 1;
  double lr = 2e-5;          // MODEL.md 7 (CAME)
  int64_t warmup_steps = 0;  // lr ramps linearly over the first warmup steps, then constant
  // cosine_decay: after warmup the lr follows a half cosine from lr down to lr * final_lr_ratio
  // at `steps` (a small model's last steps then average out the batch noise); else constant.
  bool cosine_decay = false;
  double final_lr_ratio = 0.0;
  double clip_norm = 0.05;   // global gradient norm (<= 0: no clipping)
  enum class Optimizer { Came, AdamW } optimizer = Optimizer::Came;
  CameOptions came;          // its lr is overridden by the schedule
  AdamWOptions adamw;
  double caption_dropout = 0.1;  // probability of the learned null caption per sample
  double x0_snr_clip = 0.0;      // > 0: an x0-predicting model's MSE weighted by clamp(SNR, 1, clip) (loss.h)
  uint64_t seed = 0;
  bool checkpointing = false;    // recompute each block's activations in backward
  bool use_lora = false;         // train LoRA adapters instead of the weights
  LoraConfig lora;
  int64_t save_every = 0;    // > 0: save_state(state_path) every N steps
  std::string state_path;
  int64_t preview_every = 0;  // > 0: on_preview after every N steps
  // Where the forward and backward run (null: the CPU); the loss and the optimiser stay on
  // the host (training/README.md). Must outlive the session.
  const Backend* backend = nullptr;
};

struct TrainProgress {
  int64_t step;              // steps done
  double loss;               // batch-mean IDDPM loss of this step
  double lr;
  double grad_norm;          // before clipping
  double seconds_per_step;
};

// The weights in a full fine-tune's training state (save_state's "param.<name>" tensors) as a
// ParamSet for `cfg`, without a session: to score a run while it trains. Throws BadFile.
ParamSet params_of_train_state(const std::string& path, const DimbaConfig& cfg);

class TrainSession {
 public:
  using ProgressFn = std::function<void(const TrainProgress&)>;
  // Called with the session after each preview_every steps (the caller renders previews from
  // its fixed prompts and seeds with the current weights or adapters).
  using PreviewFn = std::function<void(const class TrainSession&)>;

  // Throws InvalidArgument for bad options (batch < 1, steps < 0, dropout outside [0, 1]).
  TrainSession(const DimbaConfig& cfg, ParamSet params, const TrainOptions& opt);

  // Runs steps until opt.steps are done or *cancel becomes true (checked between steps; a
  // cancelled run keeps its state: save_state then resume). Items must share one latent
  // size and one text length. Returns the number of steps run by this call.
  int64_t run(const std::vector<TrainItem>& data, const ProgressFn& on_progress = nullptr,
               const std::atomic<bool>* cancel = nullptr, const PreviewFn& on_preview = nullptr);

  // Weights (or LoRA adapters), optimiser state and step to one safetensors file (atomic).
  void save_state(const std::string& path) const;
  // Restores a state saved by a session with the same config and options. Throws BadFile.
  void load_state(const std::string& path);

  int64_t step() const { return step_; }
  const ParamSet& params() const { return params_; }
  const Lora* lora() const { return lora_.get(); }
  double lr_at(int64_t step) const;  // the schedule: lr * min(1, (step + 1) / warmup), then the decay
  // The mean IDDPM loss of the current weights (or adapters) on `items` without a gradient or
  // dropout: each item at `draws` timesteps, one from each of `draws` equal strata of 0..999,
  // with noise, both keyed by (seed, item, draw) alone, so the same items give comparable
  // numbers at every step (a held-out validation loss). Items as run() requires them.
  double eval_loss(const std::vector<TrainItem>& items, uint64_t seed, int draws = 4);
  size_t saved_activation_bytes() const { return trainer_->saved_activation_bytes(); }

 private:
  void one_step(const std::vector<TrainItem>& data, TrainProgress& pr);

  DimbaConfig cfg_;
  TrainOptions opt_;
  ParamSet params_;
  std::unique_ptr<Lora> lora_;
  std::unique_ptr<DimbaTrainer> trainer_;
  std::unique_ptr<Came> came_;
  std::unique_ptr<AdamW> adamw_;
  int64_t step_ = 0;
};

}  // namespace dimba
