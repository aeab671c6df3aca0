// The CPU matmuls behind every Linear and attention product. f32 weights go straight to
// OpenBLAS; f16/bf16 weights are widened one cache-sized panel of rows at a time (never the
// whole matrix) and each panel is multiplied by OpenBLAS sgemm. The measurements behind this
// choice are in native/bench/README.md.
// defines: linear_forward, sgemm
#include "backend/cpu/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/error.h"

namespace dimba::cpu {
namespace {

// Rows of w widened per panel: about 256 KiB of f32, so the panel stays in L2 while the
// sgemm streams x past it.
int panel_rows(int K) { return std::max(16, std::min(512, (64 * 1024) / std::max(K, 1))); }

void widen_rows(float* dst, const void* w, DType wdtype, size_t first, size_t count) {
  const uint16_t* src = static_cast<const uint16_t*>(w) + first;
  if (wdtype == DType::BF16) {
    for (size_t i = 0; i < count; ++i) dst[i] = bf16_to_f32(src[i]);
  } else {
    for (size_t i = 0; i < count; ++i) dst[i] = f16_to_f32(src[i]);
  }
}

}  // namespace

void linear_forward(float* y, const float* x, const void* w, DType wdtype, const float* bias,
                    int M, int K, int N, bool accumulate) {
  if (M < 0 || K < 0 || N < 0)
    throw EngineError(ErrorCode::InvalidArgument, "linear_forward: negative size");
  if (wdtype != DType::F32 && wdtype != DType::F16 && wdtype != DType::BF16)
    throw EngineError(ErrorCode::InvalidArgument,
                      std::string("linear_forward: unsupported weight dtype ") + dtype_name(wdtype));
  if (M == 0 || N == 0) return;
  // The bias goes into y first so that the product can accumulate onto it (beta = 1).
  if (bias) {
    for (int i = 0; i < M; ++i) {
      float* row = y + size_t(i) * N;
      if (accumulate) {
        for (int j = 0; j < N; ++j) row[j] += bias[j];
      } else {
        std::copy(bias, bias + N, row);
      }
    }
  } else if (!accumulate && K == 0) {
    std::fill(y, y + size_t(M) * N, 0.0f);
  }
  if (K == 0) return;
  const float beta = (bias || accumulate) ? 1.0f : 0.0f;
  if (wdtype == DType::F32) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K,
                static_cast<const float*>(w), K, beta, y, N);
    return;
  }
  const int nb = panel_rows(K);
  std::vector<float> panel(size_t(std::min(nb, N)) * K);
  for (int n0 = 0; n0 < N; n0 += nb) {
    const int n = std::min(nb, N - n0);
    widen_rows(panel.data(), w, wdtype, size_t(n0) * K, size_t(n) * K);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, n, K, 1.0f, x, K, panel.data(), K,
                beta, y + n0, N);
  }
}

void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc) {
  if (M < 0 || N < 0 || K < 0)
    throw EngineError(ErrorCode::InvalidArgument, "sgemm: negative size");
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace dimba::cpu
