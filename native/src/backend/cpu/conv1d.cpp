// Mamba's causal depthwise Conv1d (d_conv taps, left zero padding), channels-last so each
// tap is a contiguous row and the loop over channels vectorises.
// defines: conv1d_causal_depthwise_forward, conv1d_causal_depthwise_silu_forward,
//          conv1d_causal_depthwise_backward
#include <vector>

#include "backend/cpu/ops.h"
#include "core/threadpool.h"

namespace dimba::cpu {

void conv1d_causal_depthwise_forward(float* out, const float* inp, const float* weight, const float* bias,
                                     int T, int D, int K, int64_t in_stride, bool reverse) {
  // Taps transposed to [K, D] so the inner loop over channels reads both operands contiguously.
  std::vector<float> wt(size_t(K) * D);
  for (int d = 0; d < D; ++d)
    for (int k = 0; k < K; ++k) wt[size_t(k) * D + d] = weight[int64_t(d) * K + k];
  ThreadPool::global().parallel_for(T, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* o = out + t * D;
      for (int d = 0; d < D; ++d) o[d] = bias ? bias[d] : 0.0f;
      for (int k = 0; k < K; ++k) {
        // Forward: tap k reads time t+k-(K-1). Reverse (the flipped sequence, mapped back to
        // original positions): tap k reads time t+(K-1)-k.
        const int64_t src = reverse ? t + (K - 1) - k : t + k - (K - 1);
        if (src < 0 || src >= T) continue;
        const float* x = inp + src * in_stride;
        const float* w = wt.data() + size_t(k) * D;
        for (int d = 0; d < D; ++d) o[d] += w[d] * x[d];
      }
    }
  }, 8);
}

void conv1d_causal_depthwise_silu_forward(float* out, const float* inp, const float* weight, const float* bias,
                                          int T, int D, int K, int64_t in_stride, bool reverse) {
  conv1d_causal_depthwise_forward(out, inp, weight, bias, T, D, K, in_stride, reverse);
  silu_forward(out, out, int64_t(T) * D);
}

}  // namespace dimba::cpu

namespace dimba::cpu {

// Backward of conv1d_causal_depthwise_forward, same argument order (gradients accumulate;
// dinp rows at t*in_stride like inp, so the x half of a [dx|dz] buffer is written in place).
// Tap k of output t read source time src (t+k-(K-1), or t+(K-1)-k in reverse):
//   dinp[src,d] += w[d,k] dout[t,d];  dweight[d,k] += dout[t,d] inp[src,d];  dbias[d] += dout[t,d].
// Parallel over channel ranges, so no two threads touch one channel's taps. Each range keeps
// its taps and their gradients transposed to [K, range] so every inner loop runs over
// contiguous channels and vectorises (the [D, K] layout made dweight a strided scatter).
namespace {

__attribute__((target_clones("avx512f", "avx2", "default")))
void conv1d_backward_range(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                           const float* weight, int T, int D, int K, int64_t in_stride, bool reverse, int64_t d0,
                           int64_t d1) {
  const int64_t n = d1 - d0;
  std::vector<float> wt(size_t(K * n)), dwt(size_t(K * n), 0.0f);
  for (int64_t d = 0; d < n; ++d)
    for (int k = 0; k < K; ++k) wt[size_t(k * n + d)] = weight[(d0 + d) * K + k];
  for (int64_t t = 0; t < T; ++t) {
    const float* g = dout + t * D + d0;
    if (dbias)
      for (int64_t d = 0; d < n; ++d) dbias[d0 + d] += g[d];
    for (int k = 0; k < K; ++k) {
      const int64_t src = reverse ? t + (K - 1) - k : t + k - (K - 1);
      if (src < 0 || src >= T) continue;
      if (dinp) {
        float* dx = dinp + src * in_stride + d0;
        const float* w = wt.data() + k * n;
        for (int64_t d = 0; d < n; ++d) dx[d] += w[d] * g[d];
      }
      const float* x = inp + src * in_stride + d0;
      float* dw = dwt.data() + k * n;
      for (int64_t d = 0; d < n; ++d) dw[d] += g[d] * x[d];
    }
  }
  if (dweight)
    for (int64_t d = 0; d < n; ++d)
      for (int k = 0; k < K; ++k) dweight[(d0 + d) * K + k] += dwt[size_t(k * n + d)];
}

}  // namespace

void conv1d_causal_depthwise_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                      const float* inp, const float* weight, int T, int D, int K,
                                      int64_t in_stride, bool reverse) {
  ThreadPool::global().parallel_for(D, [&](int64_t d0, int64_t d1) {
    conv1d_backward_range(dinp, dweight, dbias, dout, inp, weight, T, D, K, in_stride, reverse, d0, d1);
  }, 16);
}

}  // namespace dimba::cpu
