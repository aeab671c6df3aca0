// DPM-Solver++(2M): the multistep loop of MODEL.md section 5, line for line.
// defines: dpm_solver_times, dpm_solver_pp_2m, dpm_solver_pp_2m_on_times
#include "sampling/dpm_solver.h"

#include <cmath>

namespace dimba {

std::vector<double> dpm_solver_times(const DiscreteVpSchedule& s, int steps) {
  check_steps(steps, s);
  return time_uniform_grid(steps, s.n());
}

void dpm_solver_pp_2m(const DiscreteVpSchedule& s, int steps, std::vector<double>& x, const SamplerHooks& hooks) {
  dpm_solver_pp_2m_on_times(s, dpm_solver_times(s, steps), x, hooks);
}

void dpm_solver_pp_2m_on_times(const DiscreteVpSchedule& s, const std::vector<double>& ts, std::vector<double>& x,
                               const SamplerHooks& hooks) {
  check_times(ts, s);
  const int steps = int(ts.size()) - 1;
  ModelCaller model(hooks, steps, s.n());
  const size_t n = x.size();
  std::vector<double> eps;

  // Data prediction x0 = (x - sigma eps) / alpha at time t, written into m.
  auto data_prediction = [&](double t, std::vector<double>& m) {
    model.eps(x, t, eps);
    const double sg = s.sigma(t), al = s.alpha(t);
    m.resize(n);
    for (size_t j = 0; j < n; ++j) m[j] = (x[j] - sg * eps[j]) / al;
  };

  std::vector<double> m_prev, m_last;  // m[-2], m[-1]
  data_prediction(ts[0], m_last);
  double lam_prev = 0, lam_last = s.lambda(ts[0]);  // lambda(s1), lambda(s0)
  for (int i = 1; i <= steps; ++i) {
    const double t = ts[size_t(i)], s0 = ts[size_t(i - 1)];
    const double lam_t = s.lambda(t);
    const double h = lam_t - lam_last;
    const double phi = std::expm1(-h);
    const double ratio = s.sigma(t) / s.sigma(s0);
    const double a_t = s.alpha(t);
    const int order = (i == 1 || i == steps) ? 1 : 2;
    if (order == 1) {
      for (size_t j = 0; j < n; ++j) x[j] = ratio * x[j] - a_t * phi * m_last[j];
    } else {
      // D1 = (h / h0) (m[-1] - m[-2]): the finite difference that makes the step 2nd order.
      const double r = h / (lam_last - lam_prev);
      for (size_t j = 0; j < n; ++j) {
        const double d1 = r * (m_last[j] - m_prev[j]);
        x[j] = ratio * x[j] - a_t * phi * m_last[j] - 0.5 * a_t * phi * d1;
      }
    }
    lam_prev = lam_last;
    lam_last = lam_t;
    if (i < steps) {
      m_prev.swap(m_last);
      data_prediction(t, m_last);
      model.report(i, x, m_last);
    } else {
      model.report(i, x, x);
    }
  }
}

}  // namespace dimba
