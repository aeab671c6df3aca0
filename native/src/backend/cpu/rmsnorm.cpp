// RMSNorm over the last dim: x * rsqrt(mean(x^2) + eps) * w (Mamba's norm, eps 1e-5; T5's,
// eps 1e-6). No mean subtraction, no bias.
// defines: rmsnorm_forward, rmsnorm_backward
#include <cmath>

#include "backend/cpu/ops.h"
#include "core/threadpool.h"

namespace dimba::cpu {

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t rows, int C,
                     float eps) {
  ThreadPool::global().parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = inp + r * C;
      float* o = out + r * C;
      double ss = 0.0;  // double: the Mamba residual stream grows with depth
      for (int i = 0; i < C; ++i) ss += double(x[i]) * x[i];
      const float rs = float(1.0 / std::sqrt(ss / double(C) + double(eps)));
      if (weight) {
        for (int i = 0; i < C; ++i) o[i] = x[i] * rs * weight[i];
      } else {
        for (int i = 0; i < C; ++i) o[i] = x[i] * rs;
      }
      if (rstd) rstd[r] = rs;
    }
  }, 16);
}

}  // namespace dimba::cpu

namespace dimba::cpu {

// Backward of rmsnorm_forward (gradients accumulate): xhat = x * rstd, dxhat = dout * weight,
//   dinp += rstd * (dxhat - xhat * mean(dxhat * xhat)), dweight += sum_rows dout * xhat.
// dweight sums over rows, so it runs on one thread when requested.
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int64_t rows, int C) {
  auto body = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = inp + r * C;
      const float* g = dout + r * C;
      float* dx = dinp + r * C;
      const double rs = rstd[r];
      double s = 0.0;
      for (int i = 0; i < C; ++i) {
        const double xh = double(x[i]) * rs;
        const double dxh = double(g[i]) * (weight ? weight[i] : 1.0f);
        s += dxh * xh;
        if (dweight) dweight[i] += float(double(g[i]) * xh);
      }
      s /= C;
      for (int i = 0; i < C; ++i) {
        const double xh = double(x[i]) * rs;
        const double dxh = double(g[i]) * (weight ? weight[i] : 1.0f);
        dx[i] += float(rs * (dxh - xh * s));
      }
    }
  };
  if (dweight)
    body(0, rows);
  else
    ThreadPool::global().parallel_for(rows, body, 16);
}

}  // namespace dimba::cpu
