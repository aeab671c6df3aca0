// DDIM (eta = 0): predict x0 and eps at s, re-noise x0 to t with the same eps.
// defines: ddim_times, ddim, ddim_on_times
#include "sampling/ddim.h"

namespace dimba {

std::vector<double> ddim_times(const DiscreteVpSchedule& s, int steps) {
  check_steps(steps, s);
  return time_uniform_grid(steps, s.n());
}

void ddim(const DiscreteVpSchedule& s, int steps, std::vector<double>& x, const SamplerHooks& hooks) {
  ddim_on_times(s, ddim_times(s, steps), x, hooks);
}

void ddim_on_times(const DiscreteVpSchedule& s, const std::vector<double>& ts, std::vector<double>& x,
                   const SamplerHooks& hooks) {
  check_times(ts, s);
  const int steps = int(ts.size()) - 1;
  ModelCaller model(hooks, steps, s.n());
  const size_t n = x.size();
  std::vector<double> eps, x0(n);
  for (int i = 0; i < steps; ++i) {
    const double t_s = ts[size_t(i)], t_t = ts[size_t(i + 1)];
    model.eps(x, t_s, eps);
    const double a_s = s.alpha(t_s), sg_s = s.sigma(t_s);
    const double a_t = s.alpha(t_t), sg_t = s.sigma(t_t);
    for (size_t j = 0; j < n; ++j) {
      x0[j] = (x[j] - sg_s * eps[j]) / a_s;
      x[j] = a_t * x0[j] + sg_t * eps[j];
    }
    model.report(i + 1, x, x0);
  }
}

}  // namespace dimba
