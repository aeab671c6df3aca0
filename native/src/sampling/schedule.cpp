// The discrete VP schedule: arrays built the way the reference builds them, so that the float32
// roundings it applies (keypoints, log_alpha) land where its numbers land.
// defines: DiscreteVpSchedule, time_uniform_grid
#include "sampling/schedule.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace dimba {
namespace {

// numpy.linspace(start, stop, num) in float64: i * ((stop - start) / (num - 1)) + start, the
// last point set to stop exactly. Written out so the rounding matches numpy bit for bit.
std::vector<double> np_linspace(double start, double stop, int num) {
  std::vector<double> y(static_cast<size_t>(num));
  const double step = (stop - start) / double(num - 1);
  for (int i = 0; i < num; ++i) y[size_t(i)] = double(i) * step + start;
  y[size_t(num - 1)] = stop;
  return y;
}

double to_f32(double v) { return double(float(v)); }

// Piecewise-linear through (xs, ys), xs strictly increasing, extending the end segments:
// DPM-Solver's interpolate_fn (and numpy.interp inside the range).
double interp_extend(double x, const std::vector<double>& xs, const std::vector<double>& ys) {
  const size_t n = xs.size();
  size_t j;  // the segment [xs[j], xs[j+1]] to use
  if (x <= xs[0]) {
    j = 0;
  } else if (x >= xs[n - 1]) {
    j = n - 2;
  } else {
    j = size_t(std::upper_bound(xs.begin(), xs.end(), x) - xs.begin()) - 1;
  }
  const double slope = (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j]);
  return ys[j] + (x - xs[j]) * slope;
}

}  // namespace

DiscreteVpSchedule::DiscreteVpSchedule(int n, double beta_start, double beta_end) : n_(n) {
  if (n < 2 || n > 100000)
    throw EngineError(ErrorCode::InvalidArgument, "schedule length " + std::to_string(n) + " is out of range");
  if (!(beta_start > 0 && beta_start < 1 && beta_end > 0 && beta_end < 1))
    throw EngineError(ErrorCode::InvalidArgument, "schedule betas must lie in (0, 1)");
  betas_ = np_linspace(beta_start, beta_end, n);

  // Continuous view (MODEL.md section 5): a sequential cumsum in float64 (numpy's cumsum is
  // not pairwise), then float32, as the reference stores the array.
  log_alpha_keys_.resize(size_t(n));
  double acc = 0;
  for (int k = 0; k < n; ++k) {
    acc += std::log(1.0 - betas_[size_t(k)]);
    log_alpha_keys_[size_t(k)] = to_f32(0.5 * acc);
  }
  std::vector<double> grid = np_linspace(0.0, 1.0, n + 1);
  t_keys_.resize(size_t(n));
  for (int k = 0; k < n; ++k) t_keys_[size_t(k)] = to_f32(grid[size_t(k) + 1]);
  log_alpha_rev_.assign(log_alpha_keys_.rbegin(), log_alpha_keys_.rend());
  t_rev_.assign(t_keys_.rbegin(), t_keys_.rend());
  // DPM-Solver clips the schedule where lambda < -5.1 (numerical_clip_alpha); Dimba's stops at
  // about -5.04, so the clip never fires and is not implemented.
  if (lambda(1.0) < -5.1)
    throw EngineError(ErrorCode::InvalidArgument, "schedule reaches lambda < -5.1; tail clipping is not implemented");

  // IDDPM view (MODEL.md section 7, GaussianDiffusion in the reference's iddpm code).
  acp_.resize(size_t(n));
  acp_prev_.resize(size_t(n));
  post_var_.resize(size_t(n));
  post_logvar_.resize(size_t(n));
  c1_.resize(size_t(n));
  c2_.resize(size_t(n));
  double prod = 1.0;
  for (int k = 0; k < n; ++k) {
    const size_t i = size_t(k);
    acp_prev_[i] = prod;
    prod *= 1.0 - betas_[i];
    acp_[i] = prod;
    post_var_[i] = betas_[i] * (1.0 - acp_prev_[i]) / (1.0 - acp_[i]);
    c1_[i] = betas_[i] * std::sqrt(acp_prev_[i]) / (1.0 - acp_[i]);
    c2_[i] = (1.0 - acp_prev_[i]) * std::sqrt(1.0 - betas_[i]) / (1.0 - acp_[i]);
  }
  for (int k = 1; k < n; ++k) post_logvar_[size_t(k)] = std::log(post_var_[size_t(k)]);
  post_logvar_[0] = post_logvar_[1];  // post_var[0] = 0: IDDPM substitutes entry 1
}

const DiscreteVpSchedule& DiscreteVpSchedule::dimba() {
  static const DiscreteVpSchedule s;
  return s;
}

double DiscreteVpSchedule::log_alpha(double t) const { return interp_extend(t, t_keys_, log_alpha_keys_); }

double DiscreteVpSchedule::alpha(double t) const { return std::exp(log_alpha(t)); }

double DiscreteVpSchedule::sigma(double t) const {
  // 1 - alpha^2 written as -expm1(2 log_alpha): exact near t = 0, where alpha is almost 1.
  return std::sqrt(-std::expm1(2.0 * log_alpha(t)));
}

double DiscreteVpSchedule::lambda(double t) const {
  const double la = log_alpha(t);
  return la - 0.5 * std::log(-std::expm1(2.0 * la));
}

double DiscreteVpSchedule::t_from_lambda(double lam) const {
  // log_alpha = -0.5 * logaddexp(0, -2 lambda), then log_alpha -> t on the flipped keypoints
  // (log_alpha decreases with t, interp needs increasing abscissae).
  const double x = -2.0 * lam;
  const double lse = x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  const double la = -0.5 * lse;
  return interp_extend(la, log_alpha_rev_, t_rev_);
}

std::vector<double> time_uniform_grid(int steps, int n) {
  std::vector<double> ts = np_linspace(1.0, 1.0 / n, steps + 1);
  for (double& t : ts) t = to_f32(t);
  return ts;
}

}  // namespace dimba
