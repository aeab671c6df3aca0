// IDDPM loss (MODEL.md 7; guided-diffusion's GaussianDiffusion.training_losses with
// learn_sigma and the learned-range variance). In double throughout: the golden terms are
// float64 and the KL subtracts nearby log-variances.
// defines: iddpm_noisy_input, iddpm_loss, iddpm_loss_reparam
#include "training/loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace dimba {
namespace {

const double kSqrt2OverPi = 0.7978845608028654;

// The tanh approximation of the standard normal CDF the reference uses, and its derivative.
double approx_cdf(double x) { return 0.5 * (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x))); }
double approx_pdf(double x) {
  const double th = std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x));
  return 0.5 * (1.0 - th * th) * kSqrt2OverPi * (1.0 + 3.0 * 0.044715 * x * x);
}

}  // namespace

void iddpm_noisy_input(float* xt, const float* x0, const float* noise, const int64_t* t, int B, int64_t n,
                       const DiscreteVpSchedule& s) {
  for (int b = 0; b < B; ++b) {
    if (t[b] < 0 || t[b] >= s.n())
      throw EngineError(ErrorCode::InvalidArgument, "IDDPM: timestep outside the schedule");
    const double a = std::sqrt(s.acp()[size_t(t[b])]), sg = std::sqrt(1.0 - s.acp()[size_t(t[b])]);
    for (int64_t i = 0; i < n; ++i) xt[b * n + i] = float(a * x0[b * n + i] + sg * noise[b * n + i]);
  }
}

IddpmTerms iddpm_loss(float* dout, const float* out, const float* x0, const float* noise, const int64_t* t, int B,
                      int C,
                      int64_t HW, const DiscreteVpSchedule& s) {
  IddpmTerms r;
  const int64_t n = int64_t(C) * HW;  // values per sample in each half
  const double ln2 = std::log(2.0);
  for (int b = 0; b < B; ++b) {
    const int64_t tt = t[b];
    if (tt < 0 || tt >= s.n()) throw EngineError(ErrorCode::InvalidArgument, "IDDPM: timestep outside the schedule");
    const size_t k = size_t(tt);
    const double acp = s.acp()[k], beta = s.betas()[k], plv = s.post_logvar()[k];
    const double c1 = s.c1()[k], c2 = s.c2()[k];
    const double sa = std::sqrt(acp), sb = std::sqrt(1.0 - acp);
    const double r1 = std::sqrt(1.0 / acp), r2 = std::sqrt(1.0 / acp - 1.0);
    const double dlv_dv = 0.5 * (std::log(beta) - plv);  // model_logvar = frac log beta + (1-frac) plv
    const float* eps = out + int64_t(b) * 2 * n;
    const float* v = eps + n;
    const float* x = x0 + int64_t(b) * n;
    const float* nz = noise + int64_t(b) * n;
    float* deps = dout ? dout + int64_t(b) * 2 * n : nullptr;
    float* dv = dout ? deps + n : nullptr;
    double mse = 0.0, vb = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double e = eps[i], xi = x[i];
      const double d = e - nz[i];
      mse += d * d;
      if (deps) deps[i] = float(2.0 * d / double(n) / B);
      // x_t in float64, as the reference computes it (the model saw its float32 rounding).
      const double xt = sa * xi + sb * nz[i];
      const double frac = (double(v[i]) + 1.0) / 2.0;
      const double mlv = frac * std::log(beta) + (1.0 - frac) * plv;
      const double pred_x0 = r1 * xt - r2 * e;
      const double mmean = c1 * pred_x0 + c2 * xt;
      double term, dterm;  // the per-element VB term (nats) and its derivative in mlv
      if (tt > 0) {
        const double tmean = c1 * xi + c2 * xt;
        const double dm = tmean - mmean;
        term = 0.5 * (-1.0 + mlv - plv + std::exp(plv - mlv) + dm * dm * std::exp(-mlv));
        dterm = 0.5 * (1.0 - std::exp(plv - mlv) - dm * dm * std::exp(-mlv));
      } else {
        // Discretised Gaussian log-likelihood of x0 (bins 1/255, open edge bins), negated.
        const double cx = xi - mmean, inv = std::exp(-0.5 * mlv);
        const double ap = inv * (cx + 1.0 / 255.0), am = inv * (cx - 1.0 / 255.0);
        const double cp = approx_cdf(ap), cm = approx_cdf(am);
        const double dap = -0.5 * ap, dam = -0.5 * am;  // d(a)/d(mlv)
        double p, dp;
        if (xi < -0.999) {
          p = cp, dp = approx_pdf(ap) * dap;
        } else if (xi > 0.999) {
          p = 1.0 - cm, dp = -approx_pdf(am) * dam;
        } else {
          p = cp - cm, dp = approx_pdf(ap) * dap - approx_pdf(am) * dam;
        }
        const bool clamped = !(p > 1e-12);
        term = -std::log(clamped ? 1e-12 : p);
        dterm = clamped ? 0.0 : -dp / p;
      }
      vb += term;
      if (dv) dv[i] = float(dterm * dlv_dv / double(n) / ln2 / B);
    }
    mse /= double(n);
    vb /= double(n) * ln2;
    r.mse.push_back(mse);
    r.vb.push_back(vb);
    r.loss.push_back(mse + vb);
    r.mean_loss += (mse + vb) / B;
  }
  return r;
}

IddpmTerms iddpm_loss_reparam(float* dout, const float* out, const float* x0, const float* noise, const int64_t* t,
                              int B, int C, int64_t HW, const DiscreteVpSchedule& s, DimbaConfig::Prediction type,
                              double x0_snr_clip) {
  if (type == DimbaConfig::Prediction::Epsilon) return iddpm_loss(dout, out, x0, noise, t, B, C, HW, s);
  const bool v = type == DimbaConfig::Prediction::V;
  const int64_t n = int64_t(C) * HW;
  // eps as sampling will see it, for the VB term; the eps half of its gradient is replaced below.
  std::vector<float> as_eps(out, out + size_t(B) * 2 * n);
  for (int b = 0; b < B; ++b) {
    if (t[b] < 0 || t[b] >= s.n()) throw EngineError(ErrorCode::InvalidArgument, "IDDPM: timestep outside the schedule");
    const double acp = s.acp()[size_t(t[b])], a = std::sqrt(acp), sg = std::sqrt(1.0 - acp);
    for (int64_t i = 0; i < n; ++i) {
      const double xt = a * x0[b * n + i] + sg * noise[b * n + i], o = out[b * 2 * n + i];
      as_eps[size_t(b * 2 * n + i)] = float(v ? a * o + sg * xt : (xt - a * o) / sg);
    }
  }
  IddpmTerms r = iddpm_loss(dout, as_eps.data(), x0, noise, t, B, C, HW, s);
  r.mean_loss = 0.0;
  for (int b = 0; b < B; ++b) {
    const double acp = s.acp()[size_t(t[b])], a = std::sqrt(acp), sg = std::sqrt(1.0 - acp);
    const double w = (!v && x0_snr_clip > 0) ? std::clamp(acp / (1.0 - acp), 1.0, std::max(1.0, x0_snr_clip)) : 1.0;
    double mse = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const double target = v ? a * noise[b * n + i] - sg * x0[b * n + i] : double(x0[b * n + i]);
      const double d = double(out[b * 2 * n + i]) - target;
      mse += d * d;
      if (dout) dout[b * 2 * n + i] = float(w * 2.0 * d / double(n) / B);
    }
    mse /= double(n);
    r.mse[size_t(b)] = mse;
    r.loss[size_t(b)] = w * mse + r.vb[size_t(b)];
    r.mean_loss += r.loss[size_t(b)] / B;
  }
  return r;
}

}  // namespace dimba
