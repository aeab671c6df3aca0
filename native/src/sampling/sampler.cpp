// Sampler dispatch by kind, argument checks, and the model-call wrapper every sampler uses.
// defines: sampler_name, parse_sampler_kind, check_steps, check_times, sampler_times, sampler_model_times,
//          run_sampler, ModelCaller
#include "sampling/sampler.h"

#include "core/error.h"
#include "sampling/ddim.h"
#include "sampling/dpm_solver.h"
#include "sampling/euler.h"

namespace dimba {

const char* sampler_name(SamplerKind k) {
  switch (k) {
    case SamplerKind::DpmSolverPP2M: return "dpm++2m";
    case SamplerKind::Ddim: return "ddim";
    case SamplerKind::Euler: return "euler";
  }
  return "?";
}

SamplerKind parse_sampler_kind(const std::string& name) {
  if (name == "dpm++2m" || name == "dpm-solver++" || name == "dpmsolver++") return SamplerKind::DpmSolverPP2M;
  if (name == "ddim") return SamplerKind::Ddim;
  if (name == "euler") return SamplerKind::Euler;
  throw EngineError(ErrorCode::InvalidArgument,
                    "unknown sampler '" + name + "' (choices: dpm++2m, ddim, euler)");
}

void check_steps(int steps, const DiscreteVpSchedule& s) {
  if (steps < 1 || steps > s.n())
    throw EngineError(ErrorCode::InvalidArgument, "steps must be between 1 and " + std::to_string(s.n()) +
                                                      ", got " + std::to_string(steps));
}

void check_times(const std::vector<double>& ts, const DiscreteVpSchedule& s) {
  if (ts.size() < 2 || ts.size() > size_t(s.n()) + 1)
    throw EngineError(ErrorCode::InvalidArgument, "a time grid needs 2 to N + 1 points, got " + std::to_string(ts.size()));
  for (size_t i = 0; i < ts.size(); ++i) {
    if (!(ts[i] >= s.t_keys()[0] && ts[i] <= 1.0))
      throw EngineError(ErrorCode::InvalidArgument, "time " + std::to_string(ts[i]) + " lies outside [1/N, 1]");
    if (i > 0 && !(ts[i] < ts[i - 1]))
      throw EngineError(ErrorCode::InvalidArgument, "a time grid must decrease strictly");
  }
}

std::vector<double> sampler_times(SamplerKind k, const DiscreteVpSchedule& s, int steps) {
  check_steps(steps, s);
  switch (k) {
    case SamplerKind::DpmSolverPP2M: return dpm_solver_times(s, steps);
    case SamplerKind::Ddim: return ddim_times(s, steps);
    case SamplerKind::Euler: return euler_times(s, steps);
  }
  throw EngineError(ErrorCode::InvalidArgument, "unknown sampler kind");
}

std::vector<double> sampler_model_times(SamplerKind k, const DiscreteVpSchedule& s, int steps) {
  // Every sampler here calls the model once at each of ts[0..steps-1] and never at the end.
  std::vector<double> ts = sampler_times(k, s, steps);
  std::vector<double> out(static_cast<size_t>(steps));
  for (int i = 0; i < steps; ++i) out[size_t(i)] = model_time(ts[size_t(i)], s.n());
  return out;
}

void run_sampler(SamplerKind k, const DiscreteVpSchedule& s, int steps, std::vector<double>& x,
                 const SamplerHooks& hooks) {
  switch (k) {
    case SamplerKind::DpmSolverPP2M: return dpm_solver_pp_2m(s, steps, x, hooks);
    case SamplerKind::Ddim: return ddim(s, steps, x, hooks);
    case SamplerKind::Euler: return euler(s, steps, x, hooks);
  }
  throw EngineError(ErrorCode::InvalidArgument, "unknown sampler kind");
}

ModelCaller::ModelCaller(const SamplerHooks& hooks, int total, int n) : hooks_(hooks), total_(total), n_(n) {
  if (!hooks_.denoise) throw EngineError(ErrorCode::InvalidArgument, "sampler needs a denoise callback");
}

void ModelCaller::eps(const std::vector<double>& x, double t, std::vector<double>& out) {
  if (stop_requested_ || (hooks_.cancel && hooks_.cancel->load(std::memory_order_relaxed)))
    throw EngineError(ErrorCode::Cancelled, "sampling cancelled before model call " + std::to_string(calls_ + 1) +
                                                " of " + std::to_string(total_));
  DIMBA_CHECK(calls_ < total_);  // each sampler makes exactly `steps` calls
  ++calls_;
  out.assign(x.size(), 0.0);
  hooks_.denoise(x, model_time(t, n_), out);
  if (out.size() != x.size())
    throw EngineError(ErrorCode::Internal, "denoise returned " + std::to_string(out.size()) +
                                               " values for a latent of " + std::to_string(x.size()));
}

void ModelCaller::report(int step, const std::vector<double>& x, const std::vector<double>& x0) {
  if (hooks_.on_step && hooks_.on_step(StepInfo{step, total_, x, x0}) == StepAction::Cancel) stop_requested_ = true;
}

}  // namespace dimba
