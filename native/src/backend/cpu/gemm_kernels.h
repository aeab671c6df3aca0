// The GEMM implementations behind gemm.h, exposed inside the backend so that the benchmark
// (native/bench/bench_gemm.cpp) can run each one on the same shapes and the tests can hold
// each one to the same reference. Callers outside backend/cpu use gemm.h only.
// defines: GemmPath, GemmOperands, gemm_path_name, gemm_path_available, gemm_run,
//          linear_forward_path, gemm_default_path, gemm_set_threads,
//          gemm_set_bf16_activations
#pragma once
#include <cstddef>

#include "core/dtype.h"

namespace dimba::cpu {

enum class GemmPath {
  Blas,         // OpenBLAS sgemm; f16/bf16 weights widened one panel at a time (portable)
  Avx512,       // own AVX-512 FMA kernel, weights widened to f32 while packing (f32-exact)
  Avx512Bf16,   // own AVX512_BF16 VDPBF16PS kernel: activations rounded to bf16 (less exact)
};

const char* gemm_path_name(GemmPath p);
bool gemm_path_available(GemmPath p);  // the CPU can run it (checked at run time)

// C[m, n] = init + alpha * sum_k A(m, k) * B(n, k), where A(m, k) = A[m*a_sm + k*a_sk] (f32)
// and B(n, k) = B[n*b_sn + k*b_sk] stored as b_dtype. init is C's current value when load_c,
// else bias[n] (or 0 when bias is null). Strides in elements. This one form covers a Linear
// (B = weight rows) and every transpose combination of sgemm.
struct GemmOperands {
  int M, N, K;
  const float* A;
  ptrdiff_t a_sm, a_sk;
  const void* B;
  DType b_dtype;
  ptrdiff_t b_sn, b_sk;
  float alpha;
  const float* bias;
  bool load_c;
  float* C;
  ptrdiff_t ldc;
};

// Threads the own kernels use: 1 by default, because this machine's two vCPUs share one
// core's FMA units (native/bench/README.md); more splits the output columns.
void gemm_set_threads(int threads);
int gemm_threads();

// Whether bf16 weights may take the VDPBF16PS path, which rounds activations to bf16 for
// twice the rate: about 1.2e-3 relative L2 per product on Dimba's layers; against the golden
// (bound 2e-2 for bf16 weights) dimba-tiny/-wide end at 6.4e-3/7.2e-3 with it, but t5-tiny
// went from 1.6e-2 to 2.3e-2 (native/bench/README.md). Off by default, so every default path
// keeps f32 activations; a caller that has checked its model turns it on.
void gemm_set_bf16_activations(bool allow);

// The path linear_forward takes for a weight dtype on this CPU.
GemmPath gemm_default_path(DType wdtype);

// Runs the own kernels (Avx512, Avx512Bf16) on `threads` threads (split along N).
void gemm_avx512_run(GemmPath path, const GemmOperands& g, int threads);

// linear_forward through a chosen path (the benchmark compares them; tests cover each).
void linear_forward_path(GemmPath path, float* y, const float* x, const void* w, DType wdtype,
                         const float* bias, int M, int K, int N, bool accumulate);

}  // namespace dimba::cpu
