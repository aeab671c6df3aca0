// v and x0 prediction conversions (prediction.h).
// defines: vp_alpha_sigma, prediction_to_eps
#include "sampling/prediction.h"

#include <cmath>

namespace dimba {

void vp_alpha_sigma(const DiscreteVpSchedule& s, double t_model, double* alpha, double* sigma) {
  const double t = t_model / 1000.0 + 1.0 / s.n();
  *alpha = s.alpha(t);
  *sigma = s.sigma(t);
}

void prediction_to_eps(float* out, const float* x, const float* t_model, int B, int in_channels, int out_channels,
                       int64_t HW, DimbaConfig::Prediction type, const DiscreteVpSchedule& s) {
  if (type == DimbaConfig::Prediction::Epsilon) return;
  const int64_t n = int64_t(in_channels) * HW;
  for (int b = 0; b < B; ++b) {
    double a, sg;
    vp_alpha_sigma(s, double(t_model[b]), &a, &sg);
    float* o = out + int64_t(b) * out_channels * HW;
    const float* xb = x + int64_t(b) * n;
    if (type == DimbaConfig::Prediction::V) {
      for (int64_t i = 0; i < n; ++i) o[i] = float(a * double(o[i]) + sg * double(xb[i]));
    } else {
      for (int64_t i = 0; i < n; ++i) o[i] = float((double(xb[i]) - a * double(o[i])) / sg);
    }
  }
}

}  // namespace dimba
