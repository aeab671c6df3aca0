// The one interface every sampler sits behind. A sampler integrates the diffusion ODE from
// pure noise (t = 1) to t = 1/N on DiscreteVpSchedule's continuous time, calling a `denoise`
// callback for eps; it knows nothing of networks, prompts or guidance (sampling/cfg.h builds
// a guided denoise from a batched model).
//
// Latents are float64 inside the samplers: the golden (../shared/golden/dpm-solver.safetensors)
// was computed in float64, the latents are small (4 x H/8 x W/8 per image) so double costs
// nothing next to one model call, and long runs (up to 1000 steps) accumulate no float32
// rounding. (float32 would also pass: numpy's reference with float32 latent updates lands at
// ~5e-7 on the golden, the same residual as float64, which is the golden's own float32 times.)
//
// Cancellation: before each model call the sampler checks `cancel` and whether the last
// on_step asked to stop; either throws EngineError(Cancelled). A cancelled run therefore
// never starts another model call, and a request made in on_step(i) stops before step i+1;
// one made in the last on_step, after the last model call, leaves the finished sample be.
// defines: DenoiseFn, StepInfo, StepAction, StepFn, SamplerHooks, SamplerKind,
//          sampler_name, parse_sampler_kind, check_steps, check_times, sampler_times, sampler_model_times,
//          run_sampler, ModelCaller
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "sampling/schedule.h"

namespace dimba {

// eps for latent batch x at model time t_input = (t - 1/N) * 1000; eps has x's size on return.
using DenoiseFn = std::function<void(const std::vector<double>& x, double t_input, std::vector<double>& eps)>;

struct StepInfo {
  int step;                      // 1..total, after the step's update
  int total;                     // the number of steps (= model calls)
  const std::vector<double>& x;  // the latent after this step
  // The newest data prediction (x - sigma eps) / alpha: what a preview decodes. DPM-Solver's
  // last step makes no model call, so there it is the final latent itself.
  const std::vector<double>& x0;
};

enum class StepAction { Continue, Cancel };
using StepFn = std::function<StepAction(const StepInfo&)>;

struct SamplerHooks {
  DenoiseFn denoise;                       // required
  StepFn on_step;                          // optional: progress, previews, cancel
  const std::atomic<bool>* cancel = nullptr;  // optional: set from another thread to stop
};

enum class SamplerKind {
  DpmSolverPP2M,  // "dpm++2m": DPM-Solver++ multistep, 2nd order (the reference default)
  Ddim,           // "ddim": DDIM, eta = 0
  Euler,          // "euler": Karras et al. Euler on Karras noise levels
};

const char* sampler_name(SamplerKind k);
// "dpm++2m" (also "dpm-solver++", "dpmsolver++"), "ddim", "euler"; else InvalidArgument.
SamplerKind parse_sampler_kind(const std::string& name);

// steps must lie in [1, schedule.n()]: more steps than training steps only re-evaluate the
// same interpolated schedule. Throws EngineError(InvalidArgument).
void check_steps(int steps, const DiscreteVpSchedule& s);
// A caller's own grid (the *_on_times entry points): at least two times, finite, strictly
// decreasing, within [t_keys[0], 1]. Throws EngineError(InvalidArgument).
void check_times(const std::vector<double>& ts, const DiscreteVpSchedule& s);

// The continuous times the sampler visits, ts[0] = 1 ... ts[steps] = 1/N (steps + 1 points).
std::vector<double> sampler_times(SamplerKind k, const DiscreteVpSchedule& s, int steps);
// The model times (t_input) of its `steps` model calls, in call order: what the pipeline's
// test compares with the recorded calls.
std::vector<double> sampler_model_times(SamplerKind k, const DiscreteVpSchedule& s, int steps);

// Runs `steps` steps (exactly `steps` model calls) from x = the initial noise z, in place.
void run_sampler(SamplerKind k, const DiscreteVpSchedule& s, int steps, std::vector<double>& x,
                 const SamplerHooks& hooks);

// Shared by the samplers: validates the hooks, checks cancellation before each model call,
// counts calls and forwards step reports.
class ModelCaller {
 public:
  ModelCaller(const SamplerHooks& hooks, int total, int n);
  // eps(x, t) at continuous time t; throws EngineError(Cancelled) if asked to stop.
  void eps(const std::vector<double>& x, double t, std::vector<double>& out);
  void report(int step, const std::vector<double>& x, const std::vector<double>& x0);

 private:
  const SamplerHooks& hooks_;
  int total_, n_, calls_ = 0;
  bool stop_requested_ = false;
};

}  // namespace dimba
