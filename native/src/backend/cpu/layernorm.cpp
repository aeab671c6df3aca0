// LayerNorm over the last dim (Dimba uses it without affine, eps 1e-6: MODEL.md section 2).
// Two passes (mean, then squared deviations) with double accumulators: rows with a large
// mean (the residual stream late in the network) keep float32-level agreement with the
// float64 reference at the cost of a few converts per element.
// defines: layernorm_forward, layernorm_backward
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

namespace dimba::cpu {

// Backward of layernorm_forward (same argument order, llm.c style; gradients accumulate):
//   xhat = (x - mean) * rstd, dxhat = dout * weight,
//   dinp += rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
// dweight/dbias (null when no affine) sum over rows, so that path runs on one thread.
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t rows, int C) {
  auto body = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = inp + r * C;
      const float* g = dout + r * C;
      float* dx = dinp + r * C;
      const double m = mean[r], rs = rstd[r];
      double s1 = 0.0, s2 = 0.0;
      for (int i = 0; i < C; ++i) {
        const double xh = (double(x[i]) - m) * rs;
        const double dxh = double(g[i]) * (weight ? weight[i] : 1.0f);
        s1 += dxh;
        s2 += dxh * xh;
        if (dweight) dweight[i] += float(double(g[i]) * xh);
        if (dbias) dbias[i] += g[i];
      }
      s1 /= C;
      s2 /= C;
      for (int i = 0; i < C; ++i) {
        const double xh = (double(x[i]) - m) * rs;
        const double dxh = double(g[i]) * (weight ? weight[i] : 1.0f);
        dx[i] += float(rs * (dxh - s1 - xh * s2));
      }
    }
  };
  if (dweight || dbias)
    body(0, rows);
  else
    ThreadPool::global().parallel_for(rows, body, 16);
}

}  // namespace dimba::cpu
