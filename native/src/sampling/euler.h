// Euler, Karras-style: first-order Euler on the probability-flow ODE written in the scaled
// variables x~ = x / alpha and sigma~ = sigma / alpha = exp(-lambda), where it reads
// dx~/dsigma~ = eps(x, t), with noise levels spaced by Karras's rho = 7 rule.
// Source: Karras, Aittala, Aila, Laine, "Elucidating the Design Space of Diffusion-Based
// Generative Models" (NeurIPS 2022): eq. 4 / Algorithm 1 with s(t) = 1 (our x~) and the
// Euler step alone (no Heun correction, no churn), noise levels eq. 5 with rho = 7; the
// "Euler" of k-diffusion and A1111 with a discrete VP model. Each noise level is mapped back
// to the schedule's time through DiscreteVpSchedule::t_from_lambda, so the model sees the
// usual t_input.
// Two deliberate choices: the grid ends at sigma~_min = sigma~(1/N), not at 0 as Karras et al.
// append, so every sampler here returns a latent at the same t = 1/N; and on a given grid one
// Euler step in (x~, sigma~) equals a DDIM step algebraically (Karras et al. sec. 3 remark) —
// what distinguishes this sampler is the grid, which spends more steps at low noise.
// defines: euler_times, euler, euler_on_times
#pragma once
#include <vector>

#include "sampling/sampler.h"

namespace dimba {

// Karras rho = 7 noise levels from sigma~(1) to sigma~(1/N), as times: ts[0] = 1 and
// ts[steps] = the first schedule keypoint (1/N in float32), like DPM-Solver's grid ends.
std::vector<double> euler_times(const DiscreteVpSchedule& s, int steps);

// `steps` model calls, at ts[0..steps-1]; x: in the noise, out the sample at t = 1/N.
void euler(const DiscreteVpSchedule& s, int steps, std::vector<double>& x, const SamplerHooks& hooks);

// The same Euler steps on any decreasing grid ts (ts.size() - 1 steps).
void euler_on_times(const DiscreteVpSchedule& s, const std::vector<double>& ts, std::vector<double>& x,
                    const SamplerHooks& hooks);

}  // namespace dimba
