// Euler on dx~/dsigma~ = eps (Karras et al. 2022, Algorithm 1 without the Heun step).
// defines: euler_times, euler, euler_on_times
#include "sampling/euler.h"

#include <cmath>

namespace dimba {
namespace {
constexpr double kRho = 7.0;  // Karras et al. 2022, eq. 5 and Table 1
}

std::vector<double> euler_times(const DiscreteVpSchedule& s, int steps) {
  check_steps(steps, s);
  const double t_end = s.t_keys()[0];
  std::vector<double> ts(size_t(steps) + 1);
  const double lo = std::exp(-s.lambda(t_end) / kRho);  // sigma~_min^(1/rho)
  const double hi = std::exp(-s.lambda(1.0) / kRho);    // sigma~_max^(1/rho)
  for (int i = 0; i <= steps; ++i) {
    const double sig = std::pow(hi + double(i) / steps * (lo - hi), kRho);
    ts[size_t(i)] = s.t_from_lambda(-std::log(sig));
  }
  // The ends exactly, not through a round trip that could land a hair outside [1/N, 1].
  ts[0] = 1.0;
  ts[size_t(steps)] = t_end;
  return ts;
}

void euler(const DiscreteVpSchedule& s, int steps, std::vector<double>& x, const SamplerHooks& hooks) {
  euler_on_times(s, euler_times(s, steps), x, hooks);
}

void euler_on_times(const DiscreteVpSchedule& s, const std::vector<double>& ts, std::vector<double>& x,
                    const SamplerHooks& hooks) {
  check_times(ts, s);
  const int steps = int(ts.size()) - 1;
  ModelCaller model(hooks, steps, s.n());
  const size_t n = x.size();
  std::vector<double> eps, x0(n);
  // Integrate x~ = x / alpha (Karras et al. eq. 4 with s(t) = 1); x itself always holds the
  // VP latent alpha x~ that the network takes (the c_in scaling of their Table 1), so a
  // cancelled run leaves x at the last completed step.
  double a = s.alpha(ts[0]);
  std::vector<double> xs(n);
  for (size_t j = 0; j < n; ++j) xs[j] = x[j] / a;
  for (int i = 0; i < steps; ++i) {
    const double t_i = ts[size_t(i)], t_next = ts[size_t(i + 1)];
    const double sig_i = s.sigma(t_i) / a;  // a = alpha(t_i)
    const double a_next = s.alpha(t_next);
    const double sig_next = s.sigma(t_next) / a_next;
    model.eps(x, t_i, eps);
    for (size_t j = 0; j < n; ++j) {
      x0[j] = xs[j] - sig_i * eps[j];        // the denoised D(x~; sigma~), a data prediction
      xs[j] += (sig_next - sig_i) * eps[j];  // d = (x~ - D) / sigma~ = eps
      x[j] = a_next * xs[j];
    }
    a = a_next;
    model.report(i + 1, x, x0);
  }
}

}  // namespace dimba
