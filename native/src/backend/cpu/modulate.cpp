// adaLN-single modulation and gated residual adds (PixArt/Dimba blocks: MODEL.md section 2).
// The shift/scale/gate rows come straight out of the [B,6,C] table, hence the strides.
// defines: modulate_forward, gated_residual_forward
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
