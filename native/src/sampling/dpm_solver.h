// DPM-Solver++ multistep, second order, data prediction ("dpmsolver++", solver type
// "dpmsolver", time_uniform, lower_order_final): the reference default sampler.
// Source: Lu et al., "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion Probabilistic
// Models" (2022), Algorithm 2, exactly as written out in ../shared/spec/MODEL.md section 5
// and pinned by ../shared/golden/dpm-solver.safetensors.
// defines: dpm_solver_times, dpm_solver_pp_2m, dpm_solver_pp_2m_on_times
#pragma once
#include <vector>

#include "sampling/sampler.h"

namespace dimba {

// linspace(1, 1/N, steps + 1) in float32, as the reference.
std::vector<double> dpm_solver_times(const DiscreteVpSchedule& s, int steps);

// First and last step first order, the rest second order; `steps` model calls. x: in the
// initial noise, out the sample at t = 1/N.
void dpm_solver_pp_2m(const DiscreteVpSchedule& s, int steps, std::vector<double>& x, const SamplerHooks& hooks);

// The same loop on any decreasing grid ts (ts.size() - 1 steps), e.g. DPM-Solver's "logSNR"
// grid, uniform in lambda: for tests and for callers that bring their own times.
void dpm_solver_pp_2m_on_times(const DiscreteVpSchedule& s, const std::vector<double>& ts, std::vector<double>& x,
                               const SamplerHooks& hooks);

}  // namespace dimba
