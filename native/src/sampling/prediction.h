// Models that predict v or x0 instead of eps (DimbaConfig::prediction): v = alpha eps - sigma x0
// (Salimans & Ho 2022), with alpha = sqrt(acp), sigma = sqrt(1 - acp) of the discrete VP
// schedule. Given x_t: from v, eps = alpha v + sigma x_t; from x0, eps = (x_t - alpha x0) / sigma
// (DPM-Solver++ turns that back into exactly x0, so an x0 model's estimate reaches the sampler
// as it is). The network's timestep input is the model time of sampling/schedule.h: the
// training step k (an integer during training, fractional between keypoints while sampling).
// defines: vp_alpha_sigma, prediction_to_eps
#pragma once
#include <cstdint>

#include "models/dimba.h"
#include "sampling/schedule.h"

namespace dimba {

// (alpha, sigma) at model time `t_model` (k for training step k): the schedule's continuous
// alpha at t = t_model / 1000 + 1/N, which at integer k is sqrt(acp[k]) up to float32 keys.
void vp_alpha_sigma(const DiscreteVpSchedule& s, double t_model, double* alpha, double* sigma);

// out [B, out_channels, HW]: its first `in_channels` planes hold the `type` prediction; they
// are replaced by eps computed with x [B, in_channels, HW] and each sample's t_model[b]. The
// other channels (the learned variance) are left as they are.
void prediction_to_eps(float* out, const float* x, const float* t_model, int B, int in_channels, int out_channels,
                       int64_t HW, DimbaConfig::Prediction type, const DiscreteVpSchedule& s);

}  // namespace dimba
