// Int8 Linear on the CPU: weights stored as int8 rows with one f32 scale per output channel
// (symmetric, w ~= q * scale[n]), activations and accumulation in f32. The T5-XXL encoder's
// memory option (issue 4: about 4.8 GB instead of 9.5 GB in bf16). Only the weights are
// quantised: T5 activations have outlier channels that per-row activation quantisation
// would crush, and the encoder runs once per prompt, so f32 activations cost little.
// How: a panel of weight rows (about 4 MiB once widened) is dequantised to f32 and the f32
// GEMM (gemm.h's sgemm, the own AVX-512 kernel where available) runs on it; the whole weight
// is never expanded. Panels are large enough that re-packing the activations per panel stays
// a few percent of the work.
// defines: quantize_rows_int8, linear_int8_forward
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"
#include "core/error.h"

namespace dimba::cpu {
namespace {

// Rows per dequantised panel: about 4 MiB of f32, a multiple of 64 so that the GEMM's
// 32-column register tiles and its split across threads divide it evenly.
int int8_panel_rows(int K) {
  int rows = int((size_t(4) << 20) / (sizeof(float) * size_t(std::max(K, 1))));
  rows = (rows + 63) / 64 * 64;
  return std::max(64, std::min(rows, 4096));
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void dequant_rows(float* dst, const int8_t* q, const float* scale, int rows, int K) {
  for (int r = 0; r < rows; ++r) {
    const float s = scale[r];
    const int8_t* src = q + int64_t(r) * K;
    float* d = dst + int64_t(r) * K;
    for (int k = 0; k < K; ++k) d[k] = float(src[k]) * s;
  }
}

}  // namespace

void quantize_rows_int8(int8_t* q, float* scale, const float* w, int rows, int K) {
  for (int r = 0; r < rows; ++r) {
    const float* src = w + int64_t(r) * K;
    float amax = 0.0f;
    for (int k = 0; k < K; ++k) amax = std::max(amax, std::fabs(src[k]));
    const float s = amax / 127.0f;
    const float inv = s > 0.0f ? 1.0f / s : 0.0f;
    int8_t* d = q + int64_t(r) * K;
    for (int k = 0; k < K; ++k) {
      float v = std::nearbyint(src[k] * inv);
      d[k] = int8_t(std::max(-127.0f, std::min(127.0f, v)));
    }
    scale[r] = s;
  }
}

void linear_int8_forward(float* y, const float* x, const int8_t* w, const float* scale, const float* bias, int M,
                         int K, int N, bool accumulate) {
  if (M < 0 || N < 0 || K < 0) throw EngineError(ErrorCode::InvalidArgument, "linear_int8_forward: negative size");
  if (M == 0 || N == 0) return;
  if (bias) {
    for (int i = 0; i < M; ++i) {
      float* row = y + int64_t(i) * N;
      if (accumulate) {
        for (int j = 0; j < N; ++j) row[j] += bias[j];
      } else {
        std::copy(bias, bias + N, row);
      }
    }
  } else if (!accumulate) {
    std::fill(y, y + int64_t(M) * N, 0.0f);
  }
  if (K == 0) return;
  const int nb = int8_panel_rows(K);
  thread_local std::vector<float> panel;
  panel.resize(size_t(std::min(nb, N)) * size_t(K));
  for (int n0 = 0; n0 < N; n0 += nb) {
    const int n = std::min(nb, N - n0);
    dequant_rows(panel.data(), w + int64_t(n0) * K, scale + n0, n, K);
    sgemm(false, true, M, n, K, 1.0f, x, K, panel.data(), K, 1.0f, y + n0, N);
  }
}

}  // namespace dimba::cpu
