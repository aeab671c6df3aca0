// cuBLAS and cuBLASLt for the CPU emulator: the entry points backend/cuda/cublas_api.h binds,
// built as libcublas.so.13 and libcublasLt.so.13 that the engine opens as it would the real
// ones (the test puts their folder first on LD_LIBRARY_PATH). Semantics from the cuBLAS
// documentation: column-major operands, D = alpha op(A) op(B) + beta C (+ a bias per row of D
// for cuBLASLt's BIAS epilogue, then its GELU for the GELU ones); operands are checked against their declared shapes, and an
// inconsistent call returns CUBLAS_STATUS_INVALID_VALUE as the library would. 16-bit
// operands are widened exactly and 16-bit outputs rounded to nearest;
// CUBLAS_COMPUTE_32F_FAST_TF32 rounds f32 operands to TF32.
// The product runs through OpenBLAS, enqueued on the stream with cudaLaunchHostFunc so that
// stream capture records it (the test executable exports the emulated runtime).
// defines: cublasCreate_v2, cublasSetStream_v2, cublasGetVersion_v2, cublasGemmEx,
//          cublasLt{Create, MatmulDescCreate/Destroy/SetAttribute, MatrixLayoutCreate/Destroy,
//          MatmulPreferenceCreate/Destroy/SetAttribute, MatmulAlgoGetHeuristic, Matmul}
#include <cblas.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cuda_bf16.h"
#include "cuda_fp16.h"
#include "cuda_runtime.h"

namespace {

constexpr int kOk = 0, kInvalidValue = 7, kNotSupported = 15;
constexpr int kOpN = 0, kOpT = 1;
constexpr int kR32F = 0, kR16F = 2, kR16BF = 14;
constexpr int kCompute32F = 68, kCompute32FFastTF32 = 77;

float round_tf32(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu;  // 10 mantissa bits, RNE
  std::memcpy(&f, &u, 4);
  return f;
}

float element(const void* p, int type, size_t i) {
  switch (type) {
    case kR16BF: return float(static_cast<const __nv_bfloat16*>(p)[i]);
    case kR16F: return float(static_cast<const __half*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

void store(void* p, int type, size_t i, float v) {
  switch (type) {
    case kR16BF: static_cast<__nv_bfloat16*>(p)[i] = __nv_bfloat16(v); break;
    case kR16F: static_cast<__half*>(p)[i] = __half(v); break;
    default: static_cast<float*>(p)[i] = v;
  }
}

// op(X) as a dense column-major rows x cols f32 matrix; X is stored column-major with leading
// dimension ld, transposed when `trans`.
std::vector<float> widen(const void* x, int type, bool trans, int rows, int cols, int64_t ld, bool tf32) {
  std::vector<float> out(size_t(rows) * size_t(cols));
  for (int c = 0; c < cols; ++c)
    for (int r = 0; r < rows; ++r) {
      const size_t at = trans ? size_t(c) + size_t(r) * size_t(ld) : size_t(r) + size_t(c) * size_t(ld);
      const float v = element(x, type, at);
      out[size_t(r) + size_t(c) * size_t(rows)] = tf32 ? round_tf32(v) : v;
    }
  return out;
}

struct Gemm {
  int m, n, k;
  bool ta, tb;
  const void *a, *b;
  int atype, btype;
  int64_t lda, ldb;
  float alpha, beta;
  int ctype;      // of C and D
  const void* c;  // C (may equal d)
  int64_t ldc;
  void* d;
  int64_t ldd;
  const float* bias;  // per row of D, or null
  int compute;
  bool gelu = false;  // cuBLASLt's GELU epilogues: applied after the bias
};

bool valid_type(int t) { return t == kR32F || t == kR16F || t == kR16BF; }

int check(const Gemm& g) {
  if (g.m < 0 || g.n < 0 || g.k < 0) return kInvalidValue;
  if (!valid_type(g.atype) || g.atype != g.btype || !valid_type(g.ctype)) return kNotSupported;
  if (g.compute != kCompute32F && g.compute != kCompute32FFastTF32) return kNotSupported;
  if (g.compute == kCompute32FFastTF32 && g.atype != kR32F) return kNotSupported;
  if (g.lda < (g.ta ? g.k : g.m) || g.lda < 1) return kInvalidValue;
  if (g.ldb < (g.tb ? g.n : g.k) || g.ldb < 1) return kInvalidValue;
  if (g.ldc < g.m || g.ldd < g.m || g.ldc < 1) return kInvalidValue;
  return kOk;
}

void run_gemm(void* p) {
  const Gemm& g = *static_cast<const Gemm*>(p);
  if (g.m == 0 || g.n == 0) return;
  const bool tf32 = g.compute == kCompute32FFastTF32;
  std::vector<float> out(size_t(g.m) * size_t(g.n), 0.0f);
  if (g.k > 0) {
    const std::vector<float> a = widen(g.a, g.atype, g.ta, g.m, g.k, g.lda, tf32);
    const std::vector<float> b = widen(g.b, g.btype, g.tb, g.k, g.n, g.ldb, tf32);
    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, g.m, g.n, g.k, 1.0f, a.data(), g.m, b.data(), g.k, 0.0f,
                out.data(), g.m);
  }
  for (int j = 0; j < g.n; ++j)
    for (int i = 0; i < g.m; ++i) {
      float v = g.alpha * out[size_t(i) + size_t(j) * size_t(g.m)];
      if (g.beta != 0.0f) v += g.beta * element(g.c, g.ctype, size_t(i) + size_t(j) * size_t(g.ldc));  // 0: unread
      if (g.bias) v += g.bias[i];
      // The GELU of cuBLASLt's epilogue, the tanh form: 0.5 v (1 + tanh(sqrt(2/pi) (v + 0.044715 v^3))).
      if (g.gelu) v = 0.5f * v * (1.0f + std::tanh(0.7978845608f * (v + 0.044715f * v * v * v)));
      store(g.d, g.ctype, size_t(i) + size_t(j) * size_t(g.ldd), v);
    }
}

// Calls stay valid for replays of a captured graph, so each keeps its parameters for the
// life of the process (a test's worth of calls).
std::vector<Gemm*>& kept() {
  static std::vector<Gemm*> calls;
  return calls;
}

int enqueue(const Gemm& g, void* stream) {
  const int rc = check(g);
  if (rc != kOk) return rc;
  Gemm* keep = new Gemm(g);
  kept().push_back(keep);
  return cudaLaunchHostFunc(static_cast<cudaStream_t>(stream), &run_gemm, keep) == cudaSuccess ? kOk : kInvalidValue;
}

struct Handle {
  void* stream = nullptr;
};
struct MatmulDesc {
  int compute = kCompute32F;
  int transa = kOpN, transb = kOpN;
  uint32_t epilogue = 1;
  const float* bias = nullptr;
  int bias_type = -1;  // -1: the output's type (cuBLASLt's default)
};
struct Layout {
  int type;
  uint64_t rows, cols;
  int64_t ld;
};
constexpr int kDescTransA = 3, kDescTransB = 4, kDescEpilogue = 7, kDescBiasPointer = 8, kDescBiasDataType = 26;
constexpr uint32_t kEpilogueDefault = 1, kEpilogueBias = 4, kEpilogueGelu = 32, kEpilogueGeluBias = 36;
bool has_bias(uint32_t epilogue) { return epilogue == kEpilogueBias || epilogue == kEpilogueGeluBias; }

struct HeuristicResult {  // cublasLtMatmulHeuristicResult_t
  uint64_t algo[8];
  size_t workspace_size;
  int state;
  float waves_count;
  int reserved[4];
};

// Biases are read as f32 here: one in the output's type (the default, so a 16-bit output's
// unless the bias type is set) would be read wrong, so no algorithm is offered for it.
bool bias_type_ok(const MatmulDesc& d, const Layout& out) {
  return !has_bias(d.epilogue) || (d.bias_type == -1 ? out.type : d.bias_type) == kR32F;
}

}  // namespace

extern "C" {

int cublasCreate_v2(void** handle) {
  *handle = new Handle;
  return kOk;
}
int cublasSetStream_v2(void* handle, void* stream) {
  static_cast<Handle*>(handle)->stream = stream;
  return kOk;
}
int cublasGetVersion_v2(void*, int* version) {
  *version = 130000;
  return kOk;
}
int cublasGemmEx(void* handle, int transa, int transb, int m, int n, int k, const void* alpha, const void* A, int Atype,
                 int lda, const void* B, int Btype, int ldb, const void* beta, void* C, int Ctype, int ldc, int compute,
                 int /*algo*/) {
  const Gemm g{m, n, k, transa == kOpT, transb == kOpT, A, B, Atype, Btype, lda, ldb,
               *static_cast<const float*>(alpha), *static_cast<const float*>(beta), Ctype, C, ldc, C, ldc, nullptr,
               compute};
  return enqueue(g, static_cast<Handle*>(handle)->stream);
}

int cublasLtCreate(void** handle) {
  *handle = new Handle;
  return kOk;
}
int cublasLtMatmulDescCreate(void** desc, int compute, int scale_type) {
  if (scale_type != kR32F) return kNotSupported;
  auto* d = new MatmulDesc;
  d->compute = compute;
  *desc = d;
  return kOk;
}
int cublasLtMatmulDescDestroy(void* desc) {
  delete static_cast<MatmulDesc*>(desc);
  return kOk;
}
int cublasLtMatmulDescSetAttribute(void* desc, int attr, const void* buf, size_t size) {
  auto* d = static_cast<MatmulDesc*>(desc);
  switch (attr) {
    case kDescTransA:
    case kDescTransB:
      if (size != sizeof(int32_t)) return kInvalidValue;
      std::memcpy(attr == kDescTransA ? &d->transa : &d->transb, buf, 4);
      return kOk;
    case kDescEpilogue:
      if (size != sizeof(uint32_t)) return kInvalidValue;
      std::memcpy(&d->epilogue, buf, 4);
      return d->epilogue == kEpilogueDefault || d->epilogue == kEpilogueBias || d->epilogue == kEpilogueGelu ||
                     d->epilogue == kEpilogueGeluBias
                 ? kOk
                 : kNotSupported;
    case kDescBiasPointer:
      if (size != sizeof(void*)) return kInvalidValue;
      std::memcpy(&d->bias, buf, sizeof(void*));
      return kOk;
    case kDescBiasDataType:
      if (size != sizeof(int32_t)) return kInvalidValue;
      std::memcpy(&d->bias_type, buf, 4);
      return kOk;
  }
  return kNotSupported;
}
int cublasLtMatrixLayoutCreate(void** layout, int type, uint64_t rows, uint64_t cols, int64_t ld) {
  if (!valid_type(type) || ld < int64_t(rows)) return kInvalidValue;
  *layout = new Layout{type, rows, cols, ld};
  return kOk;
}
int cublasLtMatrixLayoutDestroy(void* layout) {
  delete static_cast<Layout*>(layout);
  return kOk;
}
int cublasLtMatmulPreferenceCreate(void** pref) {
  *pref = new size_t(0);
  return kOk;
}
int cublasLtMatmulPreferenceDestroy(void* pref) {
  delete static_cast<size_t*>(pref);
  return kOk;
}
int cublasLtMatmulPreferenceSetAttribute(void*, int, const void*, size_t) { return kOk; }
int cublasLtMatmulAlgoGetHeuristic(void*, void* desc, void*, void*, void*, void* d_layout, void*, int requested,
                                   HeuristicResult* results, int* returned) {
  if (requested < 1) return kInvalidValue;
  *returned = 0;
  if (!bias_type_ok(*static_cast<const MatmulDesc*>(desc), *static_cast<const Layout*>(d_layout)))
    return kNotSupported;
  results[0] = HeuristicResult{};
  *returned = 1;
  return kOk;
}
int cublasLtMatmul(void* handle, void* desc, const void* alpha, const void* A, void* a_layout, const void* B,
                   void* b_layout, const void* beta, const void* C, void* c_layout, void* D, void* d_layout,
                   const void* /*algo*/, void* /*workspace*/, size_t /*workspace_size*/, void* stream) {
  (void)handle;
  const auto& d = *static_cast<const MatmulDesc*>(desc);
  const auto &la = *static_cast<const Layout*>(a_layout), &lb = *static_cast<const Layout*>(b_layout);
  const auto &lc = *static_cast<const Layout*>(c_layout), &ld = *static_cast<const Layout*>(d_layout);
  const bool ta = d.transa == kOpT, tb = d.transb == kOpT;
  const uint64_t m = ld.rows, n = ld.cols, k = ta ? la.rows : la.cols;
  // Shapes: op(A) is m x k, op(B) k x n, C and D m x n.
  if ((ta ? la.cols : la.rows) != m || (tb ? lb.cols : lb.rows) != k || (tb ? lb.rows : lb.cols) != n ||
      lc.rows != m || lc.cols != n || ld.type != lc.type)
    return kInvalidValue;
  if (has_bias(d.epilogue) && !d.bias) return kInvalidValue;
  if (!bias_type_ok(d, ld)) return kNotSupported;
  const Gemm g{int(m), int(n), int(k), ta, tb, A, B, la.type, lb.type, la.ld, lb.ld,
               *static_cast<const float*>(alpha), *static_cast<const float*>(beta), lc.type, C, lc.ld, D, ld.ld,
               has_bias(d.epilogue) ? d.bias : nullptr, d.compute,
               d.epilogue == kEpilogueGelu || d.epilogue == kEpilogueGeluBias};
  return enqueue(g, stream);
}

}  // extern "C"
