// LayerNorm over the last dim (Dimba uses it without affine, eps 1e-6: MODEL.md section 2).
// Two passes (mean, then squared deviations) with double accumulators: rows with a large
// mean (the residual stream late in the network) keep float32-level agreement with the
// float64 reference at the cost of a few converts per element.
// defines: layernorm_forward
#include <cmath>

#include "backend/cpu/ops.h"
#include "core/threadpool.h"

namespace dimba::cpu {

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t rows, int C, float eps) {
  ThreadPool::global().parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = inp + r * C;
      float* o = out + r * C;
      double s = 0.0;
      for (int i = 0; i < C; ++i) s += x[i];
      const double md = s / double(C);
      double v = 0.0;
      for (int i = 0; i < C; ++i) {
        double d = double(x[i]) - md;
        v += d * d;
      }
      const float m = float(md);
      const float rs = float(1.0 / std::sqrt(v / double(C) + double(eps)));
      if (weight) {
        for (int i = 0; i < C; ++i) o[i] = (x[i] - m) * rs * weight[i] + (bias ? bias[i] : 0.0f);
      } else {
        for (int i = 0; i < C; ++i) o[i] = (x[i] - m) * rs + (bias ? bias[i] : 0.0f);
      }
      if (mean) mean[r] = m;
      if (rstd) rstd[r] = rs;
    }
  }, 16);
}

}  // namespace dimba::cpu
