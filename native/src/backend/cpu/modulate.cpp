// adaLN-single modulation and gated residual adds (PixArt/Dimba blocks: MODEL.md section 2).
// The shift/scale/gate rows come straight out of the [B,6,C] table, hence the strides.
// defines: modulate_forward, gated_residual_forward, modulate_backward, gated_residual_backward
#include "backend/cpu/ops.h"
#include "core/threadpool.h"

namespace dimba::cpu {

void modulate_forward(float* out, const float* inp, const float* shift, const float* scale, int B, int64_t T,
                      int C, int64_t mod_stride) {
  ThreadPool::global().parallel_for(int64_t(B) * T, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / T;
      const float* sh = shift + b * mod_stride;
      const float* sc = scale + b * mod_stride;
      const float* x = inp + r * C;
      float* o = out + r * C;
      for (int i = 0; i < C; ++i) o[i] = x[i] * (1.0f + sc[i]) + sh[i];
    }
  }, 64);
}

void gated_residual_forward(float* x, const float* y, const float* gate, int B, int64_t T, int C,
                            int64_t gate_stride) {
  ThreadPool::global().parallel_for(int64_t(B) * T, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* xr = x + r * C;
      const float* yr = y + r * C;
      if (gate) {
        const float* g = gate + (r / T) * gate_stride;
        for (int i = 0; i < C; ++i) xr[i] += g[i] * yr[i];
      } else {
        for (int i = 0; i < C; ++i) xr[i] += yr[i];
      }
    }
  }, 64);
}

}  // namespace dimba::cpu

#include <algorithm>
#include <vector>

namespace dimba::cpu {

// Backward of modulate_forward (gradients accumulate): dinp += dout * (1 + scale_b);
// dshift_b += sum_t dout, dscale_b += sum_t dout * inp, addressed with mod_stride like the
// forward (so they land in a [B,6,C] gradient table in place). Parallel over samples.
void modulate_backward(float* dinp, float* dshift, float* dscale, const float* dout, const float* inp,
                       const float* scale, int B, int64_t T, int C, int64_t mod_stride) {
  ThreadPool::global().parallel_for(B, [&](int64_t b0, int64_t b1) {
    std::vector<double> ssh(static_cast<size_t>(C)), ssc(static_cast<size_t>(C));
    for (int64_t b = b0; b < b1; ++b) {
      const float* sc = scale + b * mod_stride;
      std::fill(ssh.begin(), ssh.end(), 0.0);
      std::fill(ssc.begin(), ssc.end(), 0.0);
      for (int64_t t = 0; t < T; ++t) {
        const int64_t r = b * T + t;
        const float* g = dout + r * C;
        const float* x = inp + r * C;
        float* dx = dinp ? dinp + r * C : nullptr;
        for (int i = 0; i < C; ++i) {
          if (dx) dx[i] += g[i] * (1.0f + sc[i]);
          ssh[size_t(i)] += g[i];
          ssc[size_t(i)] += double(g[i]) * x[i];
        }
      }
      for (int i = 0; i < C; ++i) {
        if (dshift) dshift[b * mod_stride + i] += float(ssh[size_t(i)]);
        if (dscale) dscale[b * mod_stride + i] += float(ssc[size_t(i)]);
      }
    }
  });
}

// Backward of gated_residual_forward (x += gate_b * y): the gradient of x passes through
// unchanged (the caller keeps using dx), so only dy += dx * gate_b and
// dgate_b += sum_t dx * y are produced. gate null: dy += dx, no dgate.
void gated_residual_backward(float* dy, float* dgate, const float* dx, const float* y, const float* gate, int B,
                             int64_t T, int C, int64_t gate_stride) {
  ThreadPool::global().parallel_for(B, [&](int64_t b0, int64_t b1) {
    std::vector<double> sg(static_cast<size_t>(C));
    for (int64_t b = b0; b < b1; ++b) {
      std::fill(sg.begin(), sg.end(), 0.0);
      const float* gt = gate ? gate + b * gate_stride : nullptr;
      for (int64_t t = 0; t < T; ++t) {
        const int64_t r = b * T + t;
        const float* g = dx + r * C;
        const float* yr = y + r * C;
        float* dyr = dy ? dy + r * C : nullptr;
        for (int i = 0; i < C; ++i) {
          if (dyr) dyr[i] += gt ? g[i] * gt[i] : g[i];
          sg[size_t(i)] += double(g[i]) * yr[i];
        }
      }
      if (gt && dgate)
        for (int i = 0; i < C; ++i) dgate[b * gate_stride + i] += float(sg[size_t(i)]);
    }
  });
}

}  // namespace dimba::cpu
