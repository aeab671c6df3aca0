// The IDDPM training loss of Dimba (MODEL.md section 7): MSE on eps plus the learned-range
// variational bound on v (eps held constant there), per sample, averaged over the batch;
// computed in float64 from the float32 model output, with its gradient.
// defines: IddpmTerms, iddpm_noisy_input, iddpm_loss, iddpm_loss_reparam
#pragma once
#include <cstdint>
#include <vector>

#include "models/dimba.h"
#include "sampling/schedule.h"

namespace dimba {

struct IddpmTerms {
  std::vector<double> mse, vb, loss;  // (B) per sample; loss = mse + vb
  double mean_loss = 0.0;             // mean over the batch: what the gradient is of
};

// x_t = sqrt(acp_t) x0 + sqrt(1 - acp_t) noise per sample (n values each), t integer steps.
void iddpm_noisy_input(float* xt, const float* x0, const float* noise, const int64_t* t, int B, int64_t n,
                       const DiscreteVpSchedule& s);

// out [B, 2C, HW] (eps | v), x0 and noise [B, C, HW], t [B] integer steps in 0..N-1.
// dout (nullable) [B, 2C, HW] receives d(mean_loss)/d(out): the eps half from the MSE, the
// v half from the VB. Throws EngineError(InvalidArgument) for t outside the schedule.
IddpmTerms iddpm_loss(float* dout, const float* out, const float* x0, const float* noise, const int64_t* t, int B,
                      int C,
                      int64_t HW, const DiscreteVpSchedule& s);

// The same for a model predicting v or x0 (DimbaConfig::prediction V or Sample): the first
// half of `out` is that prediction, and the MSE is on it against its target (v = alpha noise
// - sigma x0, or x0; mse holds that); the VB on the variance half sees the eps sampling will
// use (prediction.h). `type` Epsilon is iddpm_loss.
// x0_snr_clip > 0 (x0 prediction only) weights each sample's MSE by clamp(SNR_t, 1, clip)
// (SNR_t = acp / (1 - acp)), the "truncated SNR" weighting of Salimans & Ho (2022) with a
// ceiling: a plain x0 MSE is dominated by the high-noise steps, whose error cannot go to zero,
// and gives the low-noise steps (where the fine detail of the image is decided) almost no
// gradient. `mse` stays unweighted; `loss` and the gradient carry the weight.
IddpmTerms iddpm_loss_reparam(float* dout, const float* out, const float* x0, const float* noise, const int64_t* t,
                              int B, int C, int64_t HW, const DiscreteVpSchedule& s, DimbaConfig::Prediction type,
                              double x0_snr_clip = 0.0);

}  // namespace dimba
