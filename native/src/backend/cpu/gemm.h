// The CPU matmuls every model layer runs on. The choice of implementation behind these
// (OpenBLAS, oneDNN, our own kernels) is measured in native/bench/ (see its README).
// defines: linear_forward, sgemm, linear_backward
#pragma once
#include "core/dtype.h"

namespace dimba::cpu {

// y[M,N] = x[M,K] @ w[N,K]^T (+ bias[N]): a PyTorch Linear. w is stored as wdtype (F32, F16
// or BF16) and is never expanded to f32 as a whole; x, y, bias are f32. bias may be null.
// accumulate: when true, y += result instead of y = result.
void linear_forward(float* y, const float* x, const void* w, DType wdtype, const float* bias,
                    int M, int K, int N, bool accumulate = false);
// Backward of linear_forward for f32 w (training): dx += dy @ w, dw += dy^T @ x, db += sum
// over rows of dy; any of dx/dw/db may be null (gradients accumulate).
void linear_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w, int M, int K,
                     int N);

// C = alpha * op(A) @ op(B) + beta * C, row-major, all f32 (attention scores and values).
void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc);

}  // namespace dimba::cpu
