// The training loop (see train_loop.h). Randomness per step comes from Philox counters keyed
// by (seed, step), never from a stateful generator, which is what makes resume exact.
// defines: TrainSession members, params_of_train_state
#include "training/train_loop.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>

#include "core/error.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "sampling/schedule.h"
#include "training/loss.h"

namespace dimba {
namespace {

// Streams of the per-step random draws (the third counter word).
enum Stream : uint32_t { kItem = 1, kTime = 2, kDrop = 3, kEvalTime = 4 };
const uint64_t kEvalNoiseSalt = 0xD1B54A32D192ED03ull;
const uint64_t kNoiseSeedSalt = 0x9E3779B97F4A7C15ull;

// A uniform 32-bit word for (seed, stream, step, index).
uint32_t draw_u32(uint64_t seed, uint32_t stream, int64_t step, int index) {
  const uint32_t key[2] = {uint32_t(seed), uint32_t(seed >> 32)};
  const uint32_t ctr[4] = {uint32_t(uint64_t(step)), uint32_t(uint64_t(step) >> 32), stream, uint32_t(index)};
  uint32_t out[4];
  philox4x32_10(out, ctr, key);
  return out[0];
}

double draw_uniform(uint64_t seed, uint32_t stream, int64_t step, int index) {
  return double(draw_u32(seed, stream, step, index)) / 4294967296.0;  // [0, 1)
}

[[noreturn]] void bad_state(const std::string& path, const std::string& m) {
  throw EngineError(ErrorCode::BadFile, path + ": " + m);
}

// A file save_state wrote, checked by its metadata.
Checkpoint open_train_state(const std::string& path) {
  Checkpoint ck = load_safetensors(path);
  auto it = ck.metadata.find("format");
  if (it == ck.metadata.end() || it->second != "dimba-train-state") bad_state(path, "not a Dimba training state");
  return ck;
}

// The trained tensors of a state ("param.<name>" or "lora.<name>") into `into`, same names and shapes.
void read_trained(const Checkpoint& ck, const std::string& path, const std::string& prefix, ParamSet& into) {
  for (size_t i = 0; i < into.count(); ++i) {
    const TensorEntry* e = ck.find(prefix + into.names[i]);
    if (!e || e->dtype != DType::F32 || e->shape != into.shapes[i])
      bad_state(path, "missing or mis-shaped " + into.names[i]);
    std::memcpy(into.at(i), e->data, e->nbytes);
  }
}

}  // namespace

ParamSet params_of_train_state(const std::string& path, const DimbaConfig& cfg) {
  const Checkpoint ck = open_train_state(path);
  ParamSet p = ParamSet::zeros_like_config(cfg);
  read_trained(ck, path, "param.", p);
  return p;
}

TrainSession::TrainSession(const DimbaConfig& cfg, ParamSet params, const TrainOptions& opt)
    : cfg_(cfg), opt_(opt), params_(std::move(params)) {
  auto bad = [](const std::string& m) { throw EngineError(ErrorCode::InvalidArgument, "training: " + m); };
  if (opt_.batch_size < 1 || opt_.batch_size > 4096) bad("batch size must be 1..4096");
  if (opt_.steps < 0) bad("steps must be >= 0");
  if (!(opt_.caption_dropout >= 0.0 && opt_.caption_dropout <= 1.0)) bad("caption dropout must be in [0, 1]");
  if (!(opt_.lr > 0.0) || !std::isfinite(opt_.lr)) bad("learning rate must be positive");
  ParamSet* trained = &params_;
  if (opt_.use_lora) {
    lora_ = std::make_unique<Lora>(Lora::create(params_, opt_.lora, opt_.seed ^ 0x4C6F5241ull));
    trained = &lora_->tensors;
  }
  trainer_ = std::make_unique<DimbaTrainer>(cfg_, params_, lora_.get(), 1.0,
                                            opt_.backend ? *opt_.backend : cpu_backend());
  trainer_->set_checkpointing(opt_.checkpointing);
  if (opt_.optimizer == TrainOptions::Optimizer::Came) {
    came_ = std::make_unique<Came>(*trained, opt_.came);
    // Without dropout the null caption is never used: keep it out of the update.
    if (!lora_ && opt_.caption_dropout == 0.0) came_->set_trainable("y_embedder.y_embedding", false);
  } else {
    adamw_ = std::make_unique<AdamW>(*trained, opt_.adamw);
    if (!lora_ && opt_.caption_dropout == 0.0) adamw_->set_trainable("y_embedder.y_embedding", false);
  }
}

double TrainSession::lr_at(int64_t step) const {
  const double warm = opt_.warmup_steps <= 0 ? 1.0 : std::min(1.0, double(step + 1) / double(opt_.warmup_steps));
  if (!opt_.cosine_decay || step < opt_.warmup_steps || opt_.steps <= opt_.warmup_steps) return opt_.lr * warm;
  const double f = std::min(1.0, double(step - opt_.warmup_steps) / double(opt_.steps - opt_.warmup_steps));
  const double r = opt_.final_lr_ratio + (1.0 - opt_.final_lr_ratio) * 0.5 * (1.0 + std::cos(3.14159265358979323846 * f));
  return opt_.lr * r;
}

void TrainSession::one_step(const std::vector<TrainItem>& data, TrainProgress& pr) {
  const int B = opt_.batch_size, Cin = cfg_.in_channels;
  const TrainItem& first = data[0];
  const int L = cfg_.model_max_length, Ccap = cfg_.caption_channels;
  const int H = first.height, W = first.width, HW = H * W;
  const int64_t n = int64_t(Cin) * HW;
  std::vector<float> x0(size_t(B) * n), noise(size_t(B) * n), xt(size_t(B) * n), y(size_t(B) * L * Ccap);
  std::vector<float> tf(static_cast<size_t>(B));
  std::vector<int64_t> t(static_cast<size_t>(B));
  std::vector<int> lens(static_cast<size_t>(B));
  std::vector<uint8_t> drop(static_cast<size_t>(B));
  for (int b = 0; b < B; ++b) {
    const TrainItem& it = data[draw_u32(opt_.seed, kItem, step_, b) % data.size()];
    std::memcpy(x0.data() + size_t(b) * n, it.latent.data(), size_t(n) * sizeof(float));
    std::memcpy(y.data() + size_t(b) * L * Ccap, it.text.data(), size_t(L) * Ccap * sizeof(float));
    lens[size_t(b)] = it.text_len;
    t[size_t(b)] = int64_t(draw_u32(opt_.seed, kTime, step_, b) % 1000u);  // t ~ U{0..999} (MODEL.md 7)
    tf[size_t(b)] = float(t[size_t(b)]);
    drop[size_t(b)] = draw_uniform(opt_.seed, kDrop, step_, b) < opt_.caption_dropout;
    fill_normal(noise.data() + size_t(b) * n, size_t(n), opt_.seed ^ kNoiseSeedSalt,
                uint64_t(step_ * B + b) * uint64_t(n));
  }
  const DiscreteVpSchedule& sch = DiscreteVpSchedule::dimba();
  iddpm_noisy_input(xt.data(), x0.data(), noise.data(), t.data(), B, n, sch);
  std::vector<float> out(size_t(B) * 2 * n), dout(out.size());
  trainer_->grads().zero();
  if (lora_) lora_->grads.zero();
  trainer_->forward(out.data(), xt.data(), tf.data(), y.data(), lens.data(), B, H, W, L, drop.data());
  IddpmTerms terms =
      iddpm_loss_reparam(dout.data(), out.data(), x0.data(), noise.data(), t.data(), B, Cin, HW, sch, cfg_.prediction,
                         opt_.x0_snr_clip);
  trainer_->backward(dout.data());
  ParamSet& grads = lora_ ? lora_->grads : trainer_->grads();
  ParamSet& trained = lora_ ? lora_->tensors : params_;
  pr.grad_norm = opt_.clip_norm > 0.0 ? clip_grad_norm(grads, opt_.clip_norm) : grad_global_norm(grads);
  pr.lr = lr_at(step_);
  if (came_) {
    came_->set_lr(pr.lr);
    came_->step(trained, grads);
  } else {
    adamw_->set_lr(pr.lr);
    adamw_->step(trained, grads);
  }
  pr.loss = terms.mean_loss;
  ++step_;
  pr.step = step_;
}

int64_t TrainSession::run(const std::vector<TrainItem>& data, const ProgressFn& on_progress,
                          const std::atomic<bool>* cancel, const PreviewFn& on_preview) {
  if (data.empty()) throw EngineError(ErrorCode::InvalidArgument, "training: empty dataset");
  const int H = data[0].height, W = data[0].width, p = cfg_.patch_size;
  if (H < p || W < p || H % p || W % p || H > 65536 || W > 65536)
    throw EngineError(ErrorCode::InvalidArgument, "training: latent size must be a positive multiple of the patch");
  const size_t n = size_t(cfg_.in_channels) * H * W;
  for (const TrainItem& it : data)
    if (it.height != H || it.width != W || it.latent.size() != n ||
        it.text.size() != size_t(cfg_.model_max_length) * cfg_.caption_channels || it.text_len < 0 ||
        it.text_len > cfg_.model_max_length)
      throw EngineError(ErrorCode::InvalidArgument,
                        "training: every item needs one latent size (in_channels, H, W) and a (model_max_length, "
                        "caption_channels) text");
  int64_t done = 0;
  while (step_ < opt_.steps) {
    if (cancel && cancel->load()) break;
    const auto t0 = std::chrono::steady_clock::now();
    TrainProgress pr{};
    one_step(data, pr);
    ++done;
    pr.seconds_per_step = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (opt_.save_every > 0 && !opt_.state_path.empty() && step_ % opt_.save_every == 0) save_state(opt_.state_path);
    if (on_progress) on_progress(pr);
    if (on_preview && opt_.preview_every > 0 && step_ % opt_.preview_every == 0) on_preview(*this);
  }
  return done;
}

double TrainSession::eval_loss(const std::vector<TrainItem>& items, uint64_t seed, int draws) {
  if (items.empty() || draws < 1) throw EngineError(ErrorCode::InvalidArgument, "eval_loss: no items or draws");
  const DiscreteVpSchedule& sch = DiscreteVpSchedule::dimba();
  const int Cin = cfg_.in_channels, L = cfg_.model_max_length;
  double sum = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const TrainItem& it = items[i];
    const int HW = it.height * it.width;
    const int64_t n = int64_t(Cin) * HW;
    if (it.latent.size() != size_t(n) || it.text.size() != size_t(L) * cfg_.caption_channels)
      throw EngineError(ErrorCode::InvalidArgument, "eval_loss: an item does not fit the model");
    std::vector<float> noise(static_cast<size_t>(n)), xt(noise.size()), out(2 * noise.size()), dout(out.size());
    for (int d = 0; d < draws; ++d) {
      const int64_t t = (int64_t(d) * 1000 + draw_u32(seed, kEvalTime, int64_t(i), d) % 1000u) / draws;
      const float tf = float(t);
      fill_normal(noise.data(), size_t(n), seed ^ kEvalNoiseSalt, (uint64_t(i) * draws + d) * uint64_t(n));
      iddpm_noisy_input(xt.data(), it.latent.data(), noise.data(), &t, 1, n, sch);
      const int len = it.text_len;
      trainer_->forward(out.data(), xt.data(), &tf, it.text.data(), &len, 1, it.height, it.width, L, nullptr);
      sum += iddpm_loss_reparam(dout.data(), out.data(), it.latent.data(), noise.data(), &t, 1, Cin, HW, sch,
                                cfg_.prediction)
                 .mean_loss;
    }
  }
  return sum / double(items.size() * size_t(draws));
}

void TrainSession::save_state(const std::string& path) const {
  std::map<std::string, TensorToSave> t;
  const ParamSet& trained = lora_ ? lora_->tensors : params_;
  const std::string wp = lora_ ? "lora." : "param.";
  for (size_t i = 0; i < trained.count(); ++i)
    t[wp + trained.names[i]] = {DType::F32, trained.shapes[i], trained.at(i)};
  std::map<std::string, std::vector<double>> st = came_ ? came_->state() : adamw_->state();
  for (auto& [k, v] : st) t["optim." + k] = {DType::F64, {int64_t(v.size())}, v.data()};
  const double step = double(step_);
  t["step"] = {DType::F64, {1}, &step};
  std::map<std::string, std::string> meta = {{"format", "dimba-train-state"},
                                             {"optimizer", came_ ? "came" : "adamw"},
                                             {"lora", lora_ ? "1" : "0"},
                                             {"seed", std::to_string(opt_.seed)}};
  save_safetensors(path, t, meta);
}

void TrainSession::load_state(const std::string& path) {
  Checkpoint ck = open_train_state(path);
  auto bad = [&](const std::string& m) { bad_state(path, m); };
  if (ck.metadata["optimizer"] != (came_ ? "came" : "adamw") || ck.metadata["lora"] != (lora_ ? "1" : "0"))
    bad("saved with another optimizer or LoRA setting");
  read_trained(ck, path, lora_ ? "lora." : "param.", lora_ ? lora_->tensors : params_);
  std::map<std::string, std::vector<double>> st;
  for (const auto& [k, e] : ck.tensors) {
    if (k.rfind("optim.", 0) != 0) continue;
    if (e.dtype != DType::F64) bad(k + " is not F64");
    std::vector<double> v(e.nbytes / 8);
    std::memcpy(v.data(), e.data, e.nbytes);
    st[k.substr(6)] = std::move(v);
  }
  if (came_)
    came_->load_state(st);
  else
    adamw_->load_state(st);
  const TensorEntry* s = ck.find("step");
  if (!s || s->dtype != DType::F64 || s->nbytes != 8) bad("missing step");
  double step;
  std::memcpy(&step, s->data, 8);
  step_ = int64_t(step);
}

}  // namespace dimba
