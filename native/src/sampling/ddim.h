// DDIM, deterministic (eta = 0), on the reference's continuous VP schedule and its
// time-uniform grid, so it sees the same model times as DPM-Solver++.
// Source: Song, Meng, Ermon, "Denoising Diffusion Implicit Models" (ICLR 2021), eq. 12 with
// sigma_t = 0: x_t = alpha_t * x0 + sigma_t * eps, x0 = (x_s - sigma_s eps) / alpha_s.
// (Lu et al. 2022, DPM-Solver section 4.1: this is DPM-Solver-1; here it is written from
// Song et al.'s form and tested against DPM-Solver++'s first-order step independently.)
// defines: ddim_times, ddim, ddim_on_times
#pragma once
#include <vector>

#include "sampling/sampler.h"

namespace dimba {

std::vector<double> ddim_times(const DiscreteVpSchedule& s, int steps);

// `steps` model calls, at ts[0..steps-1]; x: in the noise, out the sample at t = 1/N.
void ddim(const DiscreteVpSchedule& s, int steps, std::vector<double>& x, const SamplerHooks& hooks);

// The same steps on any decreasing grid ts (ts.size() - 1 steps): for tests and for callers
// that bring their own schedule of times.
void ddim_on_times(const DiscreteVpSchedule& s, const std::vector<double>& ts, std::vector<double>& x,
                   const SamplerHooks& hooks);

}  // namespace dimba
