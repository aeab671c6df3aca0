// Optimisers for training Dimba: global-norm gradient clipping, CAME (the reference's
// optimizer, MODEL.md section 7 / reference/spec_came.py) and AdamW. They update a ParamSet
// in place from a gradient ParamSet of the same layout; tensors can be frozen by name (the
// null caption when caption dropout is off, the base weights under LoRA).
// defines: grad_global_norm, clip_grad_norm, CameOptions, Came, AdamWOptions, AdamW
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "training/dimba_train.h"

namespace dimba {

// sqrt(sum of squares) over every gradient, in double.
double grad_global_norm(const ParamSet& grads);
// Scales all gradients by min(1, max_norm / (norm + 1e-6)) (torch's clip_grad_norm_);
// returns the norm before clipping.
double clip_grad_norm(ParamSet& grads, double max_norm);

struct CameOptions {
  double lr = 2e-5;
  double beta1 = 0.9, beta2 = 0.999, beta3 = 0.9999;
  double eps1 = 1e-30, eps2 = 1e-16;
  double weight_decay = 0.0;
};

// CAME (Luo et al. 2023), per tensor, factored over its last two dims when it has >= 2:
//   g2 = g^2 + eps1; r, c = running means (beta2) of g2 over the last / second-to-last dim;
//   u = g * rsqrt(r / mean(r)) * rsqrt(c) (unfactored: g * rsqrt(ema(g2))); u /= max(1, rms(u));
//   m = beta1 m + (1 - beta1) u; factored: res = (u - m)^2 + eps2, rr, rc running means (beta3),
//   update = rsqrt(rr / mean(rr)) * rsqrt(rc) * m (unfactored: m);
//   p -= lr * update (+ lr * wd * p). Leading dims of a >2-D tensor are batched.
// Running statistics are kept in double (they are small), m in float.
class Came {
 public:
  Came(const ParamSet& layout, const CameOptions& opt);
  // One step over every trainable tensor. applied (nullable, same layout) accumulates the
  // change made to each parameter, computed before rounding into the f32 weights.
  void step(ParamSet& params, const ParamSet& grads, ParamSet* applied = nullptr);
  void set_lr(double lr) { opt_.lr = lr; }
  void set_trainable(const std::string& name, bool on);
  int64_t steps() const { return steps_; }
  // The optimiser state as named float64 vectors ("steps", "<param>.m", ...) for a resumable
  // training state, and back (exact: f32 moments widen losslessly). load_state throws
  // EngineError(BadFile) when a vector is missing or has the wrong size.
  std::map<std::string, std::vector<double>> state() const;
  void load_state(const std::map<std::string, std::vector<double>>& st);

 private:
  struct Slot {
    bool factored = false, trainable = true;
    int64_t lead = 1, rows = 1, cols = 1;
    std::vector<double> r, c, rr, rc, v;
    std::vector<float> m;
  };
  CameOptions opt_;
  std::vector<std::string> names_;
  std::vector<Slot> slots_;
  int64_t steps_ = 0;
};

struct AdamWOptions {
  double lr = 1e-4;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.01;
};

// torch.optim.AdamW: p *= 1 - lr*wd; m, v moving averages; p -= lr * mhat / (sqrt(vhat) + eps)
// with the bias corrections 1 - beta^step.
class AdamW {
 public:
  AdamW(const ParamSet& layout, const AdamWOptions& opt);
  void step(ParamSet& params, const ParamSet& grads, ParamSet* applied = nullptr);
  void set_lr(double lr) { opt_.lr = lr; }
  void set_trainable(const std::string& name, bool on);
  int64_t steps() const { return steps_; }
  // The optimiser state as named float64 vectors ("steps", "<param>.m", ...) for a resumable
  // training state, and back (exact: f32 moments widen losslessly). load_state throws
  // EngineError(BadFile) when a vector is missing or has the wrong size.
  std::map<std::string, std::vector<double>> state() const;
  void load_state(const std::map<std::string, std::vector<double>>& st);

 private:
  AdamWOptions opt_;
  std::vector<std::string> names_;
  std::vector<bool> trainable_;
  std::vector<float> m_, v_;
  int64_t steps_ = 0;
};

}  // namespace dimba
