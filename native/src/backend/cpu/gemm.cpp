// The CPU matmuls behind every Linear and attention product, and the choice among the
// implementations in gemm_kernels.h. On a CPU with AVX-512 the own kernels run (weights
// widened while packing, never as a whole; bf16 weights with VDPBF16PS where the CPU has
// it); elsewhere OpenBLAS does, with f16/bf16 weights widened one cache-sized panel of rows
// at a time. The measurements behind the choice are in native/bench/README.md.
// defines: linear_forward, sgemm, linear_forward_path, gemm_default_path, gemm_path_name,
//          gemm_path_available, gemm_set_threads, gemm_threads, gemm_set_bf16_activations
#include "backend/cpu/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "backend/cpu/gemm_kernels.h"
#include "core/error.h"

namespace dimba::cpu {
namespace {

std::atomic<int> g_threads{1};
std::atomic<bool> g_bf16_activations{false};

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

void linear_blas(float* y, const float* x, const void* w, DType wdtype, const float* bias, int M,
                 int K, int N, bool accumulate) {
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
  thread_local std::vector<float> panel;
  panel.resize(size_t(std::min(nb, N)) * K);
  for (int n0 = 0; n0 < N; n0 += nb) {
    const int n = std::min(nb, N - n0);
    widen_rows(panel.data(), w, wdtype, size_t(n0) * K, size_t(n) * K);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, n, K, 1.0f, x, K, panel.data(), K,
                beta, y + n0, N);
  }
}

void check_sizes(const char* fn, int M, int N, int K) {
  if (M < 0 || N < 0 || K < 0)
    throw EngineError(ErrorCode::InvalidArgument, std::string(fn) + ": negative size");
}

}  // namespace

const char* gemm_path_name(GemmPath p) {
  switch (p) {
    case GemmPath::Blas: return "openblas";
    case GemmPath::Avx512: return "avx512";
    case GemmPath::Avx512Bf16: return "avx512bf16";
  }
  return "?";
}

bool gemm_path_available(GemmPath p) {
#if defined(__x86_64__) || defined(__i386__)
  static const bool avx512 = __builtin_cpu_supports("avx512f") &&
                             __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512vl") &&
                             __builtin_cpu_supports("avx512dq");
  static const bool bf16 = avx512 && __builtin_cpu_supports("avx512bf16");
#else
  const bool avx512 = false, bf16 = false;
#endif
  switch (p) {
    case GemmPath::Blas: return true;
    case GemmPath::Avx512: return avx512;
    case GemmPath::Avx512Bf16: return bf16;
  }
  return false;
}

void gemm_set_threads(int threads) { g_threads = std::max(1, threads); }
int gemm_threads() { return g_threads; }

void gemm_set_bf16_activations(bool allow) { g_bf16_activations = allow; }

GemmPath gemm_default_path(DType wdtype) {
  if (wdtype == DType::BF16 && g_bf16_activations && gemm_path_available(GemmPath::Avx512Bf16))
    return GemmPath::Avx512Bf16;
  return gemm_path_available(GemmPath::Avx512) ? GemmPath::Avx512 : GemmPath::Blas;
}

void linear_forward_path(GemmPath path, float* y, const float* x, const void* w, DType wdtype,
                         const float* bias, int M, int K, int N, bool accumulate) {
  check_sizes("linear_forward", M, N, K);
  if (wdtype != DType::F32 && wdtype != DType::F16 && wdtype != DType::BF16)
    throw EngineError(ErrorCode::InvalidArgument,
                      std::string("linear_forward: unsupported weight dtype ") + dtype_name(wdtype));
  if (path == GemmPath::Avx512Bf16 && wdtype != DType::BF16)
    throw EngineError(ErrorCode::InvalidArgument, "linear_forward: avx512bf16 needs bf16 weights");
  if (!gemm_path_available(path))
    throw EngineError(ErrorCode::InvalidArgument,
                      std::string("linear_forward: this CPU cannot run ") + gemm_path_name(path));
  if (M == 0 || N == 0) return;
  if (path == GemmPath::Blas) {
    linear_blas(y, x, w, wdtype, bias, M, K, N, accumulate);
    return;
  }
  GemmOperands g{M, N, K, x, K, 1, w, wdtype, K, 1, 1.0f, bias, accumulate, y, N};
  gemm_avx512_run(path, g, g_threads);
}

void linear_forward(float* y, const float* x, const void* w, DType wdtype, const float* bias,
                    int M, int K, int N, bool accumulate) {
  linear_forward_path(gemm_default_path(wdtype), y, x, w, wdtype, bias, M, K, N, accumulate);
}

void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc) {
  check_sizes("sgemm", M, N, K);
  if (M == 0 || N == 0) return;
  if (!gemm_path_available(GemmPath::Avx512)) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // The own kernel computes C = init + alpha*A*B with init = C or 0, so beta is applied first.
  if (beta != 0.0f && beta != 1.0f)
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) C[ptrdiff_t(i) * ldc + j] *= beta;
  GemmOperands g{M, N, K,
                 A, transA ? 1 : lda, transA ? lda : 1,
                 B, DType::F32, transB ? ldb : 1, transB ? 1 : ldb,
                 alpha, nullptr, beta != 0.0f, C, ldc};
  gemm_avx512_run(GemmPath::Avx512, g, g_threads);
}

}  // namespace dimba::cpu

#include <vector>

namespace dimba::cpu {

// Backward of linear_forward for f32 weights (training keeps weights in f32); gradients
// accumulate, any of dx/dw/db may be null. Two sgemms (llm.c's matmul_backward):
//   dx[M,K] += dy[M,N] @ w[N,K];  dw[N,K] += dy^T @ x;  db[N] += sum_rows dy.
void linear_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w, int M, int K,
                     int N) {
  if (M == 0) return;
  if (dx) sgemm(false, false, M, K, N, 1.0f, dy, N, w, K, 1.0f, dx, K);
  if (dw) sgemm(true, false, N, K, M, 1.0f, dy, N, x, K, 1.0f, dw, K);
  if (db) {
    std::vector<double> s(size_t(N), 0.0);
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) s[size_t(n)] += dy[int64_t(m) * N + n];
    for (int n = 0; n < N; ++n) db[n] += float(s[size_t(n)]);
  }
}

}  // namespace dimba::cpu
