// Mamba's causal depthwise Conv1d (d_conv taps, left zero padding), channels-last so each
// tap is a contiguous row and the loop over channels vectorises.
// defines: conv1d_causal_depthwise_forward
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

}  // namespace dimba::cpu
