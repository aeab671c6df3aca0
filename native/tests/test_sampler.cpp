// The noise schedule and the samplers: DPM-Solver++ against the golden cases, DDIM and Euler
// against cases with known answers (a hand-computed step; Gaussian data, where the
// probability-flow ODE has a closed form), and the contract every sampler shares (argument
// checks, exactly `steps` model calls at the advertised times, progress, cancellation).
// defines: main (test_sampler)
#include <atomic>
#include <cmath>
#include <cstdio>
#include <vector>

#include "harness.h"
#include "sampling/cfg.h"
#include "sampling/ddim.h"
#include "sampling/dpm_solver.h"
#include "sampling/euler.h"
#include "sampling/sampler.h"
#include "sampling/schedule.h"
#include "verify/golden.h"

using namespace dimba;

namespace {

const DiscreteVpSchedule& S() { return DiscreteVpSchedule::dimba(); }

bool near(double got, double want, double rel) { return std::fabs(got - want) <= rel * std::fabs(want) + 1e-300; }

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double w = 0;
  for (size_t i = 0; i < a.size(); ++i) w = std::fmax(w, std::fabs(a[i] - b[i]) / std::fabs(b[i]));
  return w;
}

const SamplerKind kAll[] = {SamplerKind::DpmSolverPP2M, SamplerKind::Ddim, SamplerKind::Euler};

// --- the schedule -----------------------------------------------------------------------

// Values from numpy on the reference's arrays (../shared/reference/spec_sampler.py's
// log_mean / sigma / lambda; the IDDPM arrays of MODEL.md section 7), inside the range, at
// the first keypoint and below it (extrapolated).
void schedule_matches_numpy() {
  struct Row { double t, log_alpha, sigma, lambda; };
  const Row rows[] = {
      {1.0, -5.058856964111328, 0.9999798206553554, -5.058836784563078},
      {0.5, -1.2717729806900024, 0.9599024753462589, -1.2308493928283382},
      {0.123456, -0.08153040839468893, 0.3878923554578267, 0.8654970038432583},
      {0.001, -5.0002498818197055e-05, 0.009999999865162862, 4.605120196972988},
      {0.0004, -1.4024366416729518e-05, 0.005296068303122861, 5.240776538948836},
  };
  for (const Row& r : rows) {
    CHECK(near(S().log_alpha(r.t), r.log_alpha, 1e-12));
    CHECK(near(S().sigma(r.t), r.sigma, 1e-9));  // numpy's 1 - exp() loses digits near t = 0
    CHECK(near(S().lambda(r.t), r.lambda, 1e-9));
    CHECK(near(S().t_from_lambda(S().lambda(r.t)), r.t, 1e-6));
  }
  struct Step { int k; double acp, acp_prev, post_var, post_logvar, c1, c2; };
  const Step steps[] = {
      {0, 0.9999, 1.0, 0.0, -9.81672513529567, 1.0000000000001101, 0.0},
      {1, 0.9997800920720721, 0.9999, 5.4531876613021935e-05, -9.81672513529567, 0.5452914995102903,
       0.4547084989905303},
      {500, 0.07779665836502389, 0.07858724288177824, 0.010051335778909593, -4.600049739984907,
       0.003058057075629619, 0.9941043507567258},
      {999, 4.035829765375676e-05, 4.118193638138445e-05, 0.01999998352656061, -3.9120238291004545,
       0.00012835148717224682, 0.9899486782675173},
  };
  for (const Step& r : steps) {
    const size_t k = size_t(r.k);
    CHECK(near(S().acp()[k], r.acp, 1e-12));
    CHECK(near(S().acp_prev()[k], r.acp_prev, 1e-12));
    CHECK(std::fabs(S().post_var()[k] - r.post_var) <= 1e-12 * std::fabs(r.post_var));
    CHECK(near(S().post_logvar()[k], r.post_logvar, 1e-10));
    CHECK(near(S().c1()[k], r.c1, 1e-10));
    CHECK(std::fabs(S().c2()[k] - r.c2) <= 1e-10 * std::fabs(r.c2));
  }
  CHECK(S().post_logvar()[0] == S().post_logvar()[1]);  // the IDDPM clip
}

// --- DPM-Solver++ against the golden -------------------------------------------------------

void dpm_solver_matches_golden() {
  std::string file = harness::golden_path("dpm-solver.safetensors");
  std::string dir = file.substr(0, file.rfind('/'));
  VerifyReport r = verify_golden(dir, "dpm-solver", VerifyOptions{});
  CHECK(r.kind == "sampler");
  CHECK(r.lines.size() == 6);  // three cases, model times and sample each
  for (const CompareLine& l : r.lines) {
    std::printf("    %-40s rel_l2 %.3e (tol %.0e)\n", l.name.c_str(), l.rel_err, l.tol);
    CHECK(l.pass());
  }
}

// The reference's time grid is float32 (numpy linspace(1, 1/N, steps + 1, dtype=float32)),
// which shows in every model time: numpy's values, to the last digits. (The golden's own
// model_t, from the torch reference, agrees with these to ~1e-8; dpm_solver_matches_golden.)
void dpm_solver_model_times() {
  std::vector<double> mt = sampler_model_times(SamplerKind::DpmSolverPP2M, S(), 20);
  CHECK(mt.size() == 20);
  CHECK(mt[0] == 999.0);
  CHECK(near(mt[1], 949.0499963760376, 1e-13));
  CHECK(near(mt[19], 49.94999819993973, 1e-12));
  std::vector<double> ts = dpm_solver_times(S(), 20);
  CHECK(ts.front() == 1.0 && ts.back() == double(float(0.001)));
}

// --- DDIM and Euler: known answers ---------------------------------------------------------

// A latent batch of two values; denoise = 0.5 x + 0.1. Hand-computed (numpy, the spec's
// alpha and sigma) for two DDIM steps 1 -> 0.5005 -> 0.001: x0 = (x - sigma_s e) / alpha_s,
// x = alpha_t x0 + sigma_t e.
void ddim_hand_computed_steps() {
  std::vector<double> x = {1.5, -0.7};
  SamplerHooks h;
  h.denoise = [](const std::vector<double>& x, double, std::vector<double>& e) {
    for (size_t i = 0; i < x.size(); ++i) e[i] = 0.5 * x[i] + 0.1;
  };
  std::vector<std::vector<double>> after;
  h.on_step = [&](const StepInfo& s) { after.push_back(s.x); return StepAction::Continue; };
  ddim(S(), 2, x, h);
  CHECK(after.size() == 2);
  CHECK(near(after[0][0], 29.427330931906248, 1e-9) && near(after[0][1], -20.047507010026962, 1e-9));
  CHECK(near(x[0], 54.520108349780834, 1e-9) && near(x[1], -37.71763481198017, 1e-9));

  // A constant eps makes x/alpha - (sigma/alpha) eps constant along the exact ODE, and DDIM
  // keeps it exactly, whatever the number of steps.
  for (int steps : {1, 3, 17}) {
    std::vector<double> y = {1.5, -0.7};
    SamplerHooks c;
    c.denoise = [](const std::vector<double>&, double, std::vector<double>& e) { e.assign(e.size(), 0.3); };
    ddim(S(), steps, y, c);
    CHECK(near(y[0], 188.8870931589524, 1e-9) && near(y[1], -157.39866401080133, 1e-9));
  }
}

// Independent routes to the same step: DPM-Solver++'s first-order step (its steps = 1 run)
// is DDIM, and an Euler step in (x/alpha, sigma/alpha) on DDIM's grid is a DDIM step.
void samplers_agree_where_theory_says() {
  auto model = [](const std::vector<double>& x, double t, std::vector<double>& e) {
    for (size_t i = 0; i < x.size(); ++i) e[i] = 0.3 * x[i] * std::cos(t / 300) + 0.05 * double(i);
  };
  SamplerHooks h;
  h.denoise = model;
  std::vector<double> z = {0.3, -1.2, 2.0, 0.7};
  std::vector<double> a = z, b = z;
  dpm_solver_pp_2m(S(), 1, a, h);
  ddim(S(), 1, b, h);
  std::printf("    dpm++2m vs ddim, one step: max rel diff %.2e\n", max_rel_diff(a, b));
  CHECK(max_rel_diff(a, b) < 1e-12);
  std::vector<double> c = z, d = z;
  const std::vector<double> ts = ddim_times(S(), 12);
  ddim_on_times(S(), ts, c, h);
  euler_on_times(S(), ts, d, h);
  std::printf("    ddim vs euler on one grid: max rel diff %.2e\n", max_rel_diff(c, d));
  CHECK(max_rel_diff(c, d) < 1e-12);
}

// Data x0 ~ N(mu_j, s_j^2) per element. Then x_t ~ N(alpha mu, alpha^2 s^2 + sigma^2), the
// true eps is sigma (x - alpha mu) / (alpha^2 s^2 + sigma^2), and along the probability-flow
// ODE (x/alpha - mu) / sqrt(s^2 + (sigma/alpha)^2) is constant: the exact sample at t = 1/N is
// known in closed form for any schedule. Each sampler must converge to it at its order.
struct GaussianCase {
  std::vector<double> mu = {0.3, -0.5, 1.2, 0.0, 0.8, -1.5};
  std::vector<double> s = {0.5, 0.2, 1.0, 0.05, 0.7, 0.3};
  std::vector<double> z = {0.4, -1.3, 2.1, 0.9, -0.2, 1.7};

  std::vector<double> exact(const DiscreteVpSchedule& sch) const {
    const double t1 = 1.0, te = sch.t_keys()[0];
    const double r1 = sch.sigma(t1) / sch.alpha(t1), re = sch.sigma(te) / sch.alpha(te);
    std::vector<double> out(z.size());
    for (size_t j = 0; j < z.size(); ++j) {
      const double q = (z[j] / sch.alpha(t1) - mu[j]) / std::sqrt(s[j] * s[j] + r1 * r1);
      out[j] = sch.alpha(te) * (mu[j] + q * std::sqrt(s[j] * s[j] + re * re));
    }
    return out;
  }
  DenoiseFn denoiser(const DiscreteVpSchedule& sch) const {
    return [this, &sch](const std::vector<double>& x, double t_input, std::vector<double>& e) {
      const double t = t_input / 1000.0 + 1.0 / sch.n();
      const double a = sch.alpha(t), sg = sch.sigma(t);
      for (size_t j = 0; j < x.size(); ++j)
        e[j] = sg * (x[j] - a * mu[j]) / (a * a * s[j] * s[j] + sg * sg);
    };
  }
};

double max_abs_err(const std::vector<double>& a, const std::vector<double>& b) {
  double w = 0;
  for (size_t i = 0; i < a.size(); ++i) w = std::fmax(w, std::fabs(a[i] - b[i]));
  return w;
}

void gaussian_convergence(SamplerKind kind, double order_lo, double order_hi, double err_at_640) {
  GaussianCase g;
  const std::vector<double> want = g.exact(S());
  SamplerHooks h;
  h.denoise = g.denoiser(S());
  std::printf("    %s, Gaussian data: max |x - exact| by steps\n", sampler_name(kind));
  double prev = 0;
  for (int steps : {10, 20, 40, 80, 160, 320, 640}) {
    std::vector<double> x = g.z;
    run_sampler(kind, S(), steps, x, h);
    const double err = max_abs_err(x, want);
    if (prev > 0) {
      const double order = std::log2(prev / err);
      std::printf("      %4d steps  err %.3e  observed order %.2f\n", steps, err, order);
      // the asymptotic order once the step is small (the first halvings are pre-asymptotic)
      if (steps >= 80) CHECK(order > order_lo && order < order_hi);
    } else {
      std::printf("      %4d steps  err %.3e\n", steps, err);
    }
    if (steps == 640) CHECK(err < err_at_640);
    prev = err;
  }
}

void ddim_converges_first_order() { gaussian_convergence(SamplerKind::Ddim, 0.8, 1.3, 1.5e-2); }
void euler_converges_first_order() { gaussian_convergence(SamplerKind::Euler, 0.8, 1.3, 1.5e-2); }
// On its own time-uniform grid DPM-Solver++ is not yet in its asymptotic regime at a few
// hundred steps: its last step spans lambda(1/N + 0.999/steps) .. lambda(1/N), which shrinks
// only like log(steps) until the grid reaches 1/N's scale. So the check here is the overall
// rate from 40 to 640 steps; the clean order is measured on a lambda-uniform grid below.
void dpm_solver_converges_second_order() {
  GaussianCase g;
  const std::vector<double> want = g.exact(S());
  SamplerHooks h;
  h.denoise = g.denoiser(S());
  std::printf("    dpm++2m, Gaussian data, time-uniform grid: max |x - exact| by steps\n");
  double prev = INFINITY, e40 = 0, e640 = 0;
  for (int steps : {10, 20, 40, 80, 160, 320, 640}) {
    std::vector<double> x = g.z;
    run_sampler(SamplerKind::DpmSolverPP2M, S(), steps, x, h);
    const double err = max_abs_err(x, want);
    std::printf("      %4d steps  err %.3e\n", steps, err);
    CHECK(err < prev);
    prev = err;
    if (steps == 40) e40 = err;
    if (steps == 640) e640 = err;
  }
  const double rate = std::log2(e40 / e640) / 4;
  std::printf("      mean observed order 40..640 steps: %.2f\n", rate);
  CHECK(rate > 1.4);
  CHECK(e640 < 5e-4);
}

// The orders proper, on a grid uniform in lambda (DPM-Solver's "logSNR" grid), where every
// step has the same h: DDIM and Euler first order, DPM-Solver++(2M) second.
std::vector<double> lambda_uniform_grid(int steps) {
  const double l0 = S().lambda(1.0), l1 = S().lambda(S().t_keys()[0]);
  std::vector<double> ts(size_t(steps) + 1);
  for (int i = 0; i <= steps; ++i) ts[size_t(i)] = S().t_from_lambda(l0 + (l1 - l0) * i / steps);
  ts[0] = 1.0;
  ts[size_t(steps)] = S().t_keys()[0];
  return ts;
}

void orders_on_a_lambda_uniform_grid() {
  using OnTimes = void (*)(const DiscreteVpSchedule&, const std::vector<double>&, std::vector<double>&,
                           const SamplerHooks&);
  struct Row { const char* name; OnTimes fn; double lo, hi; };
  const Row rows[] = {{"ddim", ddim_on_times, 0.9, 1.1},
                      {"euler", euler_on_times, 0.9, 1.1},
                      {"dpm++2m", dpm_solver_pp_2m_on_times, 1.8, 2.2}};
  GaussianCase g;
  const std::vector<double> want = g.exact(S());
  SamplerHooks h;
  h.denoise = g.denoiser(S());
  for (const Row& r : rows) {
    std::printf("    %s, Gaussian data, lambda-uniform grid:\n", r.name);
    double prev = 0;
    for (int steps : {10, 20, 40, 80, 160, 320}) {
      std::vector<double> x = g.z;
      r.fn(S(), lambda_uniform_grid(steps), x, h);
      const double err = max_abs_err(x, want);
      if (prev > 0) {
        const double order = std::log2(prev / err);
        std::printf("      %4d steps  err %.3e  observed order %.2f\n", steps, err, order);
        if (steps >= 80) CHECK(order > r.lo && order < r.hi);
      } else {
        std::printf("      %4d steps  err %.3e\n", steps, err);
      }
      prev = err;
    }
  }
}

// --- the shared contract -------------------------------------------------------------------

void every_sampler_calls_the_model_steps_times_at_its_advertised_times() {
  for (SamplerKind k : kAll) {
    for (int steps : {1, 2, 7, 20}) {
      std::vector<double> seen;
      std::vector<int> reported;
      SamplerHooks h;
      h.denoise = [&](const std::vector<double>& x, double t, std::vector<double>& e) {
        seen.push_back(t);
        for (size_t i = 0; i < x.size(); ++i) e[i] = 0.2 * x[i];
      };
      h.on_step = [&](const StepInfo& s) {
        reported.push_back(s.step);
        CHECK(s.total == steps && s.x0.size() == s.x.size());
        return StepAction::Continue;
      };
      std::vector<double> x = {0.1, 0.2, -0.3};
      run_sampler(k, S(), steps, x, h);
      CHECK(seen == sampler_model_times(k, S(), steps));
      CHECK(int(reported.size()) == steps);
      for (int i = 0; i < int(reported.size()); ++i) CHECK(reported[size_t(i)] == i + 1);
      std::vector<double> ts = sampler_times(k, S(), steps);
      CHECK(ts.front() == 1.0 && ts.back() == S().t_keys()[0]);
      for (size_t i = 1; i < ts.size(); ++i) CHECK(ts[i] < ts[i - 1]);
    }
  }
  // Euler spends its steps by noise level, so its times are not DDIM's.
  CHECK(sampler_model_times(SamplerKind::Euler, S(), 10) != sampler_model_times(SamplerKind::Ddim, S(), 10));
}

void invalid_arguments_are_rejected() {
  SamplerHooks h;
  h.denoise = [](const std::vector<double>&, double, std::vector<double>& e) { e.assign(e.size(), 0.0); };
  for (SamplerKind k : kAll) {
    for (int steps : {0, -1, -20, 1001, 1000000}) {
      std::vector<double> x = {0.0};
      CHECK_THROWS_CODE(run_sampler(k, S(), steps, x, h), ErrorCode::InvalidArgument);
      CHECK_THROWS_CODE(sampler_model_times(k, S(), steps), ErrorCode::InvalidArgument);
    }
    std::vector<double> x = {0.0};
    CHECK_THROWS_CODE(run_sampler(k, S(), 5, x, SamplerHooks{}), ErrorCode::InvalidArgument);  // no denoise
  }
  for (const std::vector<double>& ts : {std::vector<double>{1.0}, std::vector<double>{1.0, 0.5, 0.6},
                                        std::vector<double>{1.0, 0.0}, std::vector<double>{1.5, 0.5},
                                        std::vector<double>{1.0, std::nan(""), 0.001}}) {
    std::vector<double> x = {0.0};
    CHECK_THROWS_CODE(ddim_on_times(S(), ts, x, h), ErrorCode::InvalidArgument);
    CHECK_THROWS_CODE(euler_on_times(S(), ts, x, h), ErrorCode::InvalidArgument);
    CHECK_THROWS_CODE(dpm_solver_pp_2m_on_times(S(), ts, x, h), ErrorCode::InvalidArgument);
  }
  for (SamplerKind k : kAll) {  // the largest step count is accepted, and its grid is valid
    std::vector<double> x = {0.5};
    run_sampler(k, S(), 1000, x, h);
    CHECK(std::isfinite(x[0]));
  }
  CHECK_THROWS_CODE(parse_sampler_kind("k_lms"), ErrorCode::InvalidArgument);
  CHECK(parse_sampler_kind("ddim") == SamplerKind::Ddim);
  GuidedModelFn<float> m = [](const std::vector<float>& in, double, std::vector<float>& out) { out = in; };
  for (double g : {std::nan(""), double(INFINITY), -double(INFINITY), -1.0, 1e9})
    CHECK_THROWS_CODE(make_cfg_denoiser<float>(m, 1, 4, 4, g), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(make_cfg_denoiser<float>(m, 0, 4, 4, 4.5), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(make_cfg_denoiser<float>(m, 1, 4, 2, 4.5), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(DiscreteVpSchedule(1), ErrorCode::InvalidArgument);
}

// A cancel requested in on_step(i), or through the flag, stops before the next model call.
void cancellation_stops_before_the_next_model_call() {
  for (SamplerKind k : kAll) {
    int calls = 0, calls_at_request = -1;
    SamplerHooks h;
    h.denoise = [&](const std::vector<double>& x, double, std::vector<double>& e) {
      ++calls;
      for (size_t i = 0; i < x.size(); ++i) e[i] = 0.1 * x[i];
    };
    h.on_step = [&](const StepInfo& s) {
      if (s.step == 3) {
        calls_at_request = calls;
        return StepAction::Cancel;
      }
      return StepAction::Continue;
    };
    std::vector<double> x = {0.5, -0.5};
    CHECK_THROWS_CODE(run_sampler(k, S(), 10, x, h), ErrorCode::Cancelled);
    CHECK(calls_at_request > 0 && calls == calls_at_request);

    std::atomic<bool> flag{false};
    int calls2 = 0;
    SamplerHooks f;
    f.cancel = &flag;
    f.denoise = [&](const std::vector<double>&, double, std::vector<double>& e) {
      if (++calls2 == 4) flag.store(true);  // as if the UI thread pressed stop mid-call
      e.assign(e.size(), 0.0);
    };
    std::vector<double> y = {0.5, -0.5};
    CHECK_THROWS_CODE(run_sampler(k, S(), 10, y, f), ErrorCode::Cancelled);
    CHECK(calls2 == 4);
  }
}

// Guidance: one call on [x; x], eps = e_u + s (e_c - e_u) from the first channels only.
void guidance_combines_the_two_halves() {
  const int b = 2;
  const size_t in = 3, out = 6;  // eps, then as many "variance" values that must be ignored
  std::vector<std::vector<float>> inputs;
  GuidedModelFn<float> m = [&](const std::vector<float>& in2, double, std::vector<float>& out2) {
    inputs.push_back(in2);
    out2.assign(2 * b * out, 0.0f);
    for (size_t k = 0; k < 2 * b; ++k)
      for (size_t j = 0; j < out; ++j)
        out2[k * out + j] = j < in ? float(k < b ? 1.0 : 3.0) * in2[k * in + j] : 1e6f;
  };
  DenoiseFn d = make_cfg_denoiser<float>(m, b, in, out, 2.5);
  std::vector<double> x = {1, 2, 3, -1, -2, -3}, e;
  d(x, 500.0, e);
  CHECK(inputs.size() == 1 && inputs[0].size() == 12);
  for (size_t i = 0; i < 6; ++i) {
    CHECK(inputs[0][i] == float(x[i]) && inputs[0][6 + i] == float(x[i]));
    CHECK(near(e[i], x[i] + 2.5 * (3 * x[i] - x[i]), 1e-12));  // e_u = x, e_c = 3x
  }
}

}  // namespace

int main() {
  RUN(schedule_matches_numpy);
  RUN(dpm_solver_matches_golden);
  RUN(dpm_solver_model_times);
  RUN(ddim_hand_computed_steps);
  RUN(samplers_agree_where_theory_says);
  RUN(ddim_converges_first_order);
  RUN(euler_converges_first_order);
  RUN(dpm_solver_converges_second_order);
  RUN(orders_on_a_lambda_uniform_grid);
  RUN(every_sampler_calls_the_model_steps_times_at_its_advertised_times);
  RUN(invalid_arguments_are_rejected);
  RUN(cancellation_stops_before_the_next_model_call);
  RUN(guidance_combines_the_two_halves);
  return harness::summary();
}
