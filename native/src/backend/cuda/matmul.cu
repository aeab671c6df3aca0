// Matmuls through cuBLAS (opened at run time: cublas_api.h). Row-major y[M,N] = x[M,K] w[N,K]^T
// is the column-major y^T = w x^T, so every call passes w as the transposed first operand.
// Precision (cuda_backend.h): reduced -> 16-bit weights meet the activations rounded to the same
// 16-bit type, f32 weights use TF32, sgemm uses bf16; exact -> everything f32 (16-bit weights
// widened into scratch first). Accumulation is f32 always.
// Linears go through cuBLASLt with the bias in the epilogue (D = x w^T + beta y + bias: one pass
// over y, which at Dimba's shapes costs as much as the GEMM itself), one cached plan (layouts and
// the heuristic's algorithm) per shape. Where cuBLASLt is missing, declines a shape, or a
// pointer is not 16-byte aligned, cublasGemmEx runs instead with the bias written into y first
// (or added onto it when accumulating) and beta = 1.
// defines: linear_forward, linear_backward, sgemm, linear_int8_forward, mlp_forward, linear_from_16,
//          linear_from_16_to_16, linear_into_16, mlp_from_16, to_16, widen_to_f32
#include <cstdio>
#include <map>
#include <mutex>
#include <tuple>

#include "backend/cuda/context.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cublas_api.h"
#include "backend/cuda/ops.h"
#include "core/error.h"

namespace dimba::cu {
namespace {

__global__ void to_bf16_kernel(__nv_bfloat16* dst, const float* src, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = __float2bfloat16_rn(src[i]);
}
__global__ void to_f16_kernel(__half* dst, const float* src, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = __float2half_rn(src[i]);
}
__global__ void widen_bf16_kernel(float* dst, const __nv_bfloat16* src, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = __bfloat162float(src[i]);
}
__global__ void widen_f16_kernel(float* dst, const __half* src, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = __half2float(src[i]);
}

// y[r, :] = bias (set) or y[r, :] += bias (add), rows x N.
__global__ void bias_rows_kernel(float* y, const float* bias, int64_t rows, int N, bool add) {
  const int64_t n = rows * N;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float b = bias[i % N];
    y[i] = add ? y[i] + b : b;
  }
}

// w[n, k] = q[n, k] * scale[n] in f32 or bf16.
template <class T>
__global__ void dequant_int8_kernel(T* w, const int8_t* q, const float* scale, int64_t N, int K) {
  const int64_t n = N * K;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = float(q[i]) * scale[i / K];
    if constexpr (sizeof(T) == 4)
      w[i] = v;
    else
      w[i] = __float2bfloat16_rn(v);
  }
}

__global__ void fill_bf16_kernel(__nv_bfloat16* dst, int64_t n, float scale) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = __float2bfloat16_rn(scale * float(int((uint64_t(i) * 2654435761ull) % 17) - 8));
}

// C[r, c] = beta * C[r, c] (0 when beta is 0) over M x N with leading dimension ldc: a GEMM
// with nothing to sum.
__global__ void scale_rows_kernel(float* C, int M, int N, int ldc, float beta) {
  const int64_t n = int64_t(M) * N;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    float* p = C + (i / N) * ldc + i % N;
    *p = beta == 0.0f ? 0.0f : beta * *p;
  }
}

// db[n] += sum over rows of dy[:, n].
__global__ void column_sum_kernel(float* db, const float* dy, int64_t M, int N) {
  const int n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= N) return;
  float s = 0.0f;
  for (int64_t r = 0; r < M; ++r) s += dy[r * N + n];
  db[n] += s;
}

int cuda_type(DType t) { return t == DType::F32 ? kCudaR32F : t == DType::F16 ? kCudaR16F : kCudaR16BF; }

// Column-major GEMM on the backend's stream (C in f32 unless ct says otherwise).
void gemm(int ta, int tb, int m, int n, int k, float alpha, const void* A, int at, int lda, const void* B, int bt,
          int ldb, float beta, void* C, int ldc, int compute, int ct = kCudaR32F) {
  const CublasApi& api = cublas_api();
  const int rc = api.gemm_ex(cublas_handle(), ta, tb, m, n, k, &alpha, A, at, lda, B, bt, ldb, &beta, C, ct, ldc,
                             compute, kCublasGemmDefault);
  if (rc != 0)
    throw_invalid("cublasGemmEx failed with status " + std::to_string(rc) + " (m=" + std::to_string(m) +
                  " n=" + std::to_string(n) + " k=" + std::to_string(k) + ")");
}

// The bias step before a beta = 1 GEMM; returns the beta to use.
float apply_bias(float* y, const float* bias, int M, int N, bool accumulate) {
  if (!bias) return accumulate ? 1.0f : 0.0f;
  bias_rows_kernel<<<blocks_for(int64_t(M) * N, 256), 256, 0, stream()>>>(y, bias, M, N, accumulate);
  check_launch("bias_rows_kernel");
  return 1.0f;
}

// ---- cuBLASLt linears ----------------------------------------------------------------------
struct LtPlan {
  bool ok = false;  // false: cuBLASLt declined this shape (cublasGemmEx runs it)
  void *desc = nullptr, *a = nullptr, *b = nullptr, *c = nullptr;
  LtHeuristicResult algo{};
  unsigned char spare[128] = {};  // room should a later cuBLASLt's result struct be larger
};

struct LtState {
  std::mutex mu;
  bool tried = false;
  void* handle = nullptr;  // null: no cuBLASLt
  void* workspace = nullptr;
  size_t workspace_bytes = size_t(32) << 20;
  // (type, M, K, N, bias, compute, ytype, gelu)
  std::map<std::tuple<int, int, int, int, bool, int, int, bool>, LtPlan> plans;
};

LtState& lt() {
  static LtState s;
  return s;
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

const LtPlan& lt_plan(LtState& st, int type, int M, int K, int N, const float* bias, int compute, int ytype,
                      bool gelu) {
  const auto key = std::make_tuple(type, M, K, N, bias != nullptr, compute, ytype, gelu);
  auto it = st.plans.find(key);
  if (it != st.plans.end()) return it->second;
  const CublasLtApi& api = cublas_lt_api();
  LtPlan p;
  const int ta = kCublasOpT, tb = kCublasOpN, bias_type = kCudaR32F;
  const int epi = gelu ? (bias ? kLtEpilogueGeluBias : kLtEpilogueGelu) : (bias ? kLtEpilogueBias : kLtEpilogueDefault);
  void* pref = nullptr;
  int found = 0;
  bool ok = api.desc_create(&p.desc, compute, kCudaR32F) == 0 &&
            api.desc_set(p.desc, kLtDescTransA, &ta, sizeof ta) == 0 &&
            api.desc_set(p.desc, kLtDescTransB, &tb, sizeof tb) == 0 &&
            api.desc_set(p.desc, kLtDescEpilogue, &epi, sizeof epi) == 0 &&
            (!bias || api.desc_set(p.desc, kLtDescBiasPointer, &bias, sizeof bias) == 0) &&
            // The bias is f32 always; cuBLASLt takes it in the output's type unless told.
            (!bias || ytype == kCudaR32F ||
             api.desc_set(p.desc, kLtDescBiasDataType, &bias_type, sizeof bias_type) == 0) &&
            api.layout_create(&p.a, type, uint64_t(K), uint64_t(N), K) == 0 &&
            api.layout_create(&p.b, type, uint64_t(K), uint64_t(M), K) == 0 &&
            api.layout_create(&p.c, ytype, uint64_t(N), uint64_t(M), N) == 0 && api.pref_create(&pref) == 0 &&
            api.pref_set(pref, kLtPrefMaxWorkspaceBytes, &st.workspace_bytes, sizeof st.workspace_bytes) == 0 &&
            api.heuristic(st.handle, p.desc, p.a, p.b, p.c, p.c, pref, 1, &p.algo, &found) == 0 && found > 0 &&
            p.algo.state == 0;
  if (pref) api.pref_destroy(pref);
  p.ok = ok;
  return st.plans.emplace(key, p).first->second;
}

// y = x w^T + beta y (+ bias) through cuBLASLt, y of cuBLAS type ytype, with cuBLASLt's GELU
// (the tanh form) applied last where `gelu`; false where it cannot (nothing is run; the caller
// falls back).
bool lt_linear(void* y, int ytype, const void* x, const void* w, int type, const float* bias, bool gelu, int M, int K,
               int N, float beta, int compute) {
  LtState& st = lt();
  std::lock_guard<std::mutex> lock(st.mu);
  if (!st.tried) {
    st.tried = true;
    try {
      const CublasLtApi& api = cublas_lt_api();
      if (api.create(&st.handle) != 0) st.handle = nullptr;
      if (st.handle) st.workspace = device_alloc(st.workspace_bytes);
    } catch (const EngineError& e) {
      std::fprintf(stderr, "cuda: %s; linears use cublasGemmEx\n", e.what());
      st.handle = nullptr;
    }
  }
  if (!st.handle || !aligned16(y) || !aligned16(x) || !aligned16(w) || (bias && !aligned16(bias))) return false;
  const LtPlan& p = lt_plan(st, type, M, K, N, bias, compute, ytype, gelu);
  if (!p.ok) return false;
  const CublasLtApi& api = cublas_lt_api();
  if (bias && api.desc_set(p.desc, kLtDescBiasPointer, &bias, sizeof bias) != 0) return false;
  const float alpha = 1.0f;
  const int rc = api.matmul(st.handle, p.desc, &alpha, w, p.a, x, p.b, &beta, y, p.c, y, p.c, p.algo.algo,
                            st.workspace, st.workspace_bytes, stream());
  if (rc != 0)
    throw_invalid("cublasLtMatmul failed with status " + std::to_string(rc) + " (M=" + std::to_string(M) +
                  " K=" + std::to_string(K) + " N=" + std::to_string(N) + ")");
  return true;
}

// y[M,N] = xa[M,K] wa[N,K]^T (+ y when accumulating) (+ bias), both operands of cuBLAS `type`.
void linear_gemm(float* y, const void* xa, const void* wa, int type, int compute, const float* bias, int M, int K,
                 int N, bool accumulate) {
  if (lt_linear(y, kCudaR32F, xa, wa, type, bias, false, M, K, N, accumulate ? 1.0f : 0.0f, compute)) return;
  const float beta = apply_bias(y, bias, M, N, accumulate);
  gemm(kCublasOpT, kCublasOpN, N, M, K, 1.0f, wa, type, K, xa, type, K, beta, y, N, compute);
}

// y[M,N] = x[M,K] w[N,K]^T + beta y (+ bias) with w already on the device in `wt` (F32/F16/BF16).
void linear_core(float* y, const float* x, const void* w, DType wt, const float* bias, int M, int K, int N,
                 bool accumulate) {
  const void* xa = x;  // the activations as the GEMM reads them
  const void* wa = w;
  int type = kCudaR32F, compute = kCublasCompute32F;
  if (wt == DType::F32) {
    if (reduced_precision()) compute = kCublasCompute32FFastTF32;
  } else if (reduced_precision()) {
    xa = to_16(kScratchA, wt, x, int64_t(M) * K);
    type = cuda_type(wt);
  } else {
    float* wf = static_cast<float*>(scratch(kScratchB, size_t(N) * K * 4));
    widen_to_f32(wf, w, wt, int64_t(N) * K);
    wa = wf;
  }
  linear_gemm(y, xa, wa, type, compute, bias, M, K, N, accumulate);
}

// C = beta C where the product has no terms (K = 0) or C no elements, as BLAS defines it:
// done here for every GEMM entry point rather than left to cuBLAS's quick returns. True when the
// product is empty (and handled).
bool empty_product(int M, int N, int K, float beta, float* C, int ldc) {
  if (M > 0 && N > 0 && K > 0) return false;
  if (M > 0 && N > 0 && beta != 1.0f) {
    scale_rows_kernel<<<blocks_for(int64_t(M) * N, 256), 256, 0, stream()>>>(C, M, N, ldc, beta);
    check_launch("scale_rows_kernel");
  }
  return true;
}

void check_sizes(const char* op, int M, int K, int N) {
  if (M < 0 || K < 0 || N < 0)
    throw_invalid(std::string(op) + ": bad sizes M=" + std::to_string(M) + " K=" + std::to_string(K) +
                  " N=" + std::to_string(N));
}

}  // namespace

const void* to_16(ScratchSlot slot, DType to, const float* src, int64_t n) {
  void* dst = scratch(slot, size_t(n > 0 ? n : 0) * 2);
  if (n <= 0) return dst;
  if (to == DType::BF16)
    to_bf16_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(static_cast<__nv_bfloat16*>(dst), src, n);
  else
    to_f16_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(static_cast<__half*>(dst), src, n);
  check_launch("to_16");
  return dst;
}

void widen_to_f32(float* dst, const void* src, DType from, int64_t n) {
  if (n <= 0) return;
  if (from == DType::BF16)
    widen_bf16_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(dst, static_cast<const __nv_bfloat16*>(src), n);
  else
    widen_f16_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(dst, static_cast<const __half*>(src), n);
  check_launch("widen_to_f32");
}

void linear_forward(float* y, const float* x, const void* w, DType wdtype, const float* bias, int M, int K, int N,
                    bool accumulate) {
  if (wdtype != DType::F32 && wdtype != DType::F16 && wdtype != DType::BF16)
    throw_invalid(std::string("linear_forward: weights must be F32, F16 or BF16, not ") + dtype_name(wdtype));
  check_sizes("linear_forward", M, K, N);
  if (M == 0 || N == 0) return;
  if (K == 0) {  // nothing to sum: y = bias (or 0), or y += bias
    if (apply_bias(y, bias, M, N, accumulate) == 0.0f) cu::zero(y, size_t(M) * N * 4);
    return;
  }
  linear_core(y, x, w, wdtype, bias, M, K, N, accumulate);
}

// With 16-bit weights in the tensor-core mode, fc2 reads its input in the weights' type, so fc1
// writes it so, with the GELU applied in cuBLASLt's epilogue: the hidden never exists in f32.
// Where cuBLASLt declines that, fc1 writes f32 and the GELU writes the 16-bit hidden
// (gelu_tanh_to_16: the same roundings as the three ops).
void mlp_forward(float* y, float* hidden, const float* x, const void* w1, const float* b1, const void* w2,
                 const float* b2, DType wdtype, int M, int K, int H, int N) {
  if (!reduced_precision() || wdtype == DType::F32 || M <= 0 || K <= 0 || H <= 0 || N <= 0) {
    linear_forward(hidden, x, w1, wdtype, b1, M, K, H, false);
    gelu_tanh_forward(hidden, hidden, int64_t(M) * H);
    linear_forward(y, hidden, w2, wdtype, b2, M, H, N, false);
    return;
  }
  mlp_from_16(y, hidden, to_16(kScratchA, wdtype, x, int64_t(M) * K), w1, b1, w2, b2, wdtype, M, K, H, N);
}

void mlp_from_16(float* y, float* hidden, const void* x16, const void* w1, const float* b1, const void* w2,
                 const float* b2, DType wdtype, int M, int K, int H, int N) {
  void* h16 = scratch(kScratchG, size_t(M) * H * 2);
  if (!linear_from_16_to_16(h16, x16, w1, wdtype, b1, true, M, K, H)) {
    linear_from_16(hidden, x16, w1, wdtype, b1, M, K, H);
    gelu_tanh_to_16(h16, wdtype, hidden, int64_t(M) * H);
  }
  linear_from_16(y, h16, w2, wdtype, b2, M, H, N);
}

void linear_from_16(float* y, const void* x16, const void* w, DType wdtype, const float* bias, int M, int K, int N,
                    bool accumulate) {
  linear_gemm(y, x16, w, cuda_type(wdtype), kCublasCompute32F, bias, M, K, N, accumulate);
}

bool linear_from_16_to_16(void* y16, const void* x16, const void* w, DType wdtype, const float* bias, bool gelu, int M,
                          int K, int N) {
  const int t = cuda_type(wdtype);
  return lt_linear(y16, t, x16, w, t, bias, gelu, M, K, N, 0.0f, kCublasCompute32F);
}

const void* linear_into_16(ScratchSlot slot, float* y32, const void* x16, const void* w, DType wdtype,
                           const float* bias, int M, int K, int N) {
  void* y16 = scratch(slot, size_t(M) * N * 2);
  if (linear_from_16_to_16(y16, x16, w, wdtype, bias, false, M, K, N)) return y16;
  linear_from_16(y32, x16, w, wdtype, bias, M, K, N);
  return to_16(slot, wdtype, y32, int64_t(M) * N);
}

void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
           int ldb, float beta, float* C, int ldc) {
  if (M < 0 || N < 0 || K < 0) throw_invalid("sgemm: negative sizes");
  if (empty_product(M, N, K, beta, C, ldc)) return;
  if (!reduced_precision()) {  // column-major C^T = op(B)^T op(A)^T, as in gemm_bf16
    gemm(transB ? kCublasOpT : kCublasOpN, transA ? kCublasOpT : kCublasOpN, N, M, K, alpha, B, kCudaR32F, ldb, A,
         kCudaR32F, lda, beta, C, ldc, kCublasCompute32F);
    return;
  }
  // bf16 copies of exactly the stored extents (the last row only up to its used columns).
  const int64_t a_rows = transA ? K : M, a_cols = transA ? M : K, b_rows = transB ? N : K, b_cols = transB ? K : N;
  const int64_t na = (a_rows - 1) * lda + a_cols, nb = (b_rows - 1) * ldb + b_cols;
  gemm_bf16(transA, transB, M, N, K, alpha, to_16(kScratchA, DType::BF16, A, na), lda,
            to_16(kScratchC, DType::BF16, B, nb), ldb, beta, C, ldc);
}

void gemm_bf16(bool transA, bool transB, int M, int N, int K, float alpha, const void* A, int lda, const void* B,
               int ldb, float beta, float* C, int ldc) {
  if (empty_product(M, N, K, beta, C, ldc)) return;
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: B first.
  gemm(transB ? kCublasOpT : kCublasOpN, transA ? kCublasOpT : kCublasOpN, N, M, K, alpha, B, kCudaR16BF, ldb, A,
       kCudaR16BF, lda, beta, C, ldc, kCublasCompute32F);
}

void linear_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w, int M, int K,
                     int N) {
  check_sizes("linear_backward", M, K, N);
  if (M == 0 || K == 0 || N == 0) return;
  if (dx) sgemm(false, false, M, K, N, 1.0f, dy, N, w, K, 1.0f, dx, K);
  if (dw) sgemm(true, false, N, K, M, 1.0f, dy, N, x, K, 1.0f, dw, K);
  if (db) {
    column_sum_kernel<<<(N + 127) / 128, 128, 0, stream()>>>(db, dy, M, N);
    check_launch("column_sum_kernel");
  }
}

void linear_int8_forward(float* y, const float* x, const int8_t* w, const float* scale, const float* bias, int M,
                         int K, int N, bool accumulate) {
  check_sizes("linear_int8_forward", M, K, N);
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (apply_bias(y, bias, M, N, accumulate) == 0.0f) cu::zero(y, size_t(M) * N * 4);
    return;
  }
  const int64_t n = int64_t(N) * K;
  const bool bf = reduced_precision();
  void* wd = scratch(kScratchD, size_t(n) * (bf ? 2 : 4));
  if (bf)
    dequant_int8_kernel<__nv_bfloat16>
        <<<blocks_for(n, 256), 256, 0, stream()>>>(static_cast<__nv_bfloat16*>(wd), w, scale, N, K);
  else
    dequant_int8_kernel<float><<<blocks_for(n, 256), 256, 0, stream()>>>(static_cast<float*>(wd), w, scale, N, K);
  check_launch("dequant_int8_kernel");
  linear_core(y, x, wd, bf ? DType::BF16 : DType::F32, bias, M, K, N, accumulate);
}

}  // namespace dimba::cu

namespace dimba {

double cuda_gemm_bf16_tflops(int n, int reps, bool out_f32) {
  using namespace cu;
  ensure_device();
  if (n < 16 || reps < 1) throw_invalid("cuda_gemm_bf16_tflops: n >= 16 and reps >= 1");
  const int64_t nn = int64_t(n) * n;
  void* a = device_alloc(size_t(nn) * 2);
  void* b = device_alloc(size_t(nn) * 2);
  void* c = device_alloc(size_t(nn) * 4);
  fill_bf16_kernel<<<blocks_for(nn, 256), 256, 0, stream()>>>(static_cast<__nv_bfloat16*>(a), nn, 0.01f);
  fill_bf16_kernel<<<blocks_for(nn, 256), 256, 0, stream()>>>(static_cast<__nv_bfloat16*>(b), nn, 0.02f);
  check_launch("fill_bf16_kernel");
  const int ct = out_f32 ? kCudaR32F : kCudaR16BF;
  auto run = [&] { gemm(kCublasOpT, kCublasOpN, n, n, n, 1.0f, a, kCudaR16BF, n, b, kCudaR16BF, n, 0.0f, c, n,
                        kCublasCompute32F, ct); };
  for (int i = 0; i < 3; ++i) run();
  cudaEvent_t e0, e1;
  check(cudaEventCreate(&e0), "cudaEventCreate");
  check(cudaEventCreate(&e1), "cudaEventCreate");
  check(cudaEventRecord(e0, stream()), "cudaEventRecord");
  for (int i = 0; i < reps; ++i) run();
  check(cudaEventRecord(e1, stream()), "cudaEventRecord");
  check(cudaEventSynchronize(e1), "cudaEventSynchronize");
  float ms = 0.0f;
  check(cudaEventElapsedTime(&ms, e0, e1), "cudaEventElapsedTime");
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  device_free(a);
  device_free(b);
  device_free(c);
  return 2.0 * double(n) * n * n * reps / (double(ms) * 1e-3) / 1e12;
}

}  // namespace dimba
