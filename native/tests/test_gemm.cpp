// linear_forward and sgemm against a naive double-precision reference, on every path (f32,
// f16, bf16 weights; bias or not; accumulate or not) and on sizes that are not multiples of
// any tile (M = 1, 3, 17; K = 72; N = 104 ...), because the model's shapes are exactly such.
// defines: main (test_gemm)
#include <cstdint>
#include <random>
#include <vector>

#include "backend/cpu/gemm.h"
#include "backend/cpu/gemm_kernels.h"
#include "core/dtype.h"
#include "harness.h"

using dimba::DType;
using dimba::cpu::GemmPath;

namespace {

std::mt19937 rng(1234);

std::vector<float> randn(size_t n) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Weights as stored bits. f16 bits are drawn directly (no f32->f16 rounding needed) and
// include subnormals, zeros of both signs and large exponents, so the widening is tested on
// every class of value a checkpoint can hold.
std::vector<uint16_t> rand_f16_bits(size_t n) {
  std::uniform_int_distribution<int> man(0, 1023), sign(0, 1), cls(0, 15), ex(8, 17);
  std::vector<uint16_t> v(n);
  for (auto& h : v) {
    int c = cls(rng);
    int e = c == 0 ? 0 : ex(rng);           // 1 in 16 subnormal (or zero)
    int m = c == 1 ? 0 : man(rng);
    h = uint16_t(sign(rng) << 15 | e << 10 | m);
  }
  return v;
}
std::vector<uint16_t> to_bf16(const std::vector<float>& f) {
  std::vector<uint16_t> v(f.size());
  for (size_t i = 0; i < f.size(); ++i) v[i] = dimba::f32_to_bf16(f[i]);
  return v;
}

// y[M,N] (+)= x[M,K] @ w[N,K]^T + bias, in double, from weights already widened to f32.
std::vector<float> ref_linear(const std::vector<float>& x, const std::vector<float>& w,
                              const float* bias, int M, int K, int N, const float* y0) {
  std::vector<float> y(size_t(M) * N);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double s = bias ? bias[j] : 0.0;
      if (y0) s += y0[size_t(i) * N + j];
      for (int k = 0; k < K; ++k) s += double(x[size_t(i) * K + k]) * double(w[size_t(j) * K + k]);
      y[size_t(i) * N + j] = float(s);
    }
  return y;
}

void check_linear(GemmPath path, DType dt, int M, int K, int N, bool with_bias, bool accumulate) {
  auto x = randn(size_t(M) * K);
  std::vector<float> wf;
  std::vector<uint16_t> wh;
  const void* wp;
  if (dt == DType::F32) {
    wf = randn(size_t(N) * K);
    wp = wf.data();
  } else {
    wh = dt == DType::F16 ? rand_f16_bits(size_t(N) * K) : to_bf16(randn(size_t(N) * K));
    wf.resize(wh.size());
    for (size_t i = 0; i < wh.size(); ++i)
      wf[i] = dt == DType::F16 ? dimba::f16_to_f32(wh[i]) : dimba::bf16_to_f32(wh[i]);
    wp = wh.data();
  }
  auto bias = randn(N);
  auto y = randn(size_t(M) * N);  // garbage unless accumulating: must be overwritten
  auto y0 = y;
  const float* b = with_bias ? bias.data() : nullptr;
  dimba::cpu::linear_forward_path(path, y.data(), x.data(), wp, dt, b, M, K, N, accumulate);
  auto want = ref_linear(x, wf, b, M, K, N, accumulate ? y0.data() : nullptr);
  std::printf("    %s %s M=%d K=%d N=%d bias=%d acc=%d\n", dimba::cpu::gemm_path_name(path),
              dimba::dtype_name(dt), M, K, N, with_bias, accumulate);
  if (path != GemmPath::Avx512Bf16) {
    // Weights are compared against the same rounded values, and activations stay f32, so
    // every exact path is held to f32 accumulation accuracy.
    CHECK_REL(y.data(), want.data(), y.size(), 1e-5);
    return;
  }
  // The VDPBF16PS path rounds activations to bf16 (8 significant bits): against the exact
  // product that costs about 1.7e-3 relative L2 on these random layers (a single output can
  // cancel to far more, so the bound is only checked over many). Against the product of the
  // rounded activations it must again be f32-accurate.
  if (y.size() >= 100) CHECK_REL(y.data(), want.data(), y.size(), 5e-3);
  std::vector<float> xr(x.size());
  for (size_t i = 0; i < x.size(); ++i) xr[i] = dimba::bf16_to_f32(dimba::f32_to_bf16(x[i]));
  auto want_r = ref_linear(xr, wf, b, M, K, N, accumulate ? y0.data() : nullptr);
  CHECK_REL(y.data(), want_r.data(), y.size(), 1e-5);
}

const int kSizes[][3] = {
    // M, K, N: degenerate rows, tile-unfriendly K and N (Dimba's head 72, x_proj 104), and
    // one shape large enough to cross every blocking boundary.
    {1, 1, 1},   {1, 72, 104}, {3, 72, 104}, {17, 1152, 104}, {17, 72, 2304},
    {5, 33, 7},  {64, 64, 64}, {130, 257, 131}, {300, 4096, 1152 / 8}, {257, 1152, 577},
};

// Every path this CPU can run, so a machine without AVX-512 still tests the OpenBLAS one and
// one with it tests all three.
void check_paths(DType dt) {
  for (GemmPath path : {GemmPath::Blas, GemmPath::Avx512, GemmPath::Avx512Bf16}) {
    if (!dimba::cpu::gemm_path_available(path)) {
      std::printf("    %s: not available on this CPU\n", dimba::cpu::gemm_path_name(path));
      continue;
    }
    if (path == GemmPath::Avx512Bf16 && dt != DType::BF16) continue;
    for (auto& s : kSizes)
      for (int b = 0; b < 2; ++b)
        for (int a = 0; a < 2; ++a) {
          // The large shapes cross the blocking; bias and accumulate are tested on the small
          // ones, so the large ones take two of the four combinations (the reference is slow).
          const bool large = double(s[0]) * s[1] * s[2] > 4e6;
          if (!large || a == b) check_linear(path, dt, s[0], s[1], s[2], b, a);
        }
  }
}
void test_linear_f32() { check_paths(DType::F32); }
void test_linear_f16() { check_paths(DType::F16); }
void test_linear_bf16() { check_paths(DType::BF16); }

// The default path (what the model runs) on a Dimba-shaped layer: bf16 weights keep f32
// activations unless the caller allows rounding them (VDPBF16PS).
void test_linear_default() {
  auto x = randn(size_t(37) * 1152);
  auto w = to_bf16(randn(size_t(104) * 1152));
  std::vector<float> wf(w.size()), y(size_t(37) * 104);
  for (size_t i = 0; i < w.size(); ++i) wf[i] = dimba::bf16_to_f32(w[i]);
  auto want = ref_linear(x, wf, nullptr, 37, 1152, 104, nullptr);
  for (bool allow : {true, false}) {
    dimba::cpu::gemm_set_bf16_activations(allow);
    const GemmPath p = dimba::cpu::gemm_default_path(DType::BF16);
    std::printf("    bf16 activations %s: default path for bf16 weights %s\n",
                allow ? "allowed" : "refused", dimba::cpu::gemm_path_name(p));
    CHECK(allow || p != GemmPath::Avx512Bf16);
    dimba::cpu::linear_forward(y.data(), x.data(), w.data(), DType::BF16, nullptr, 37, 1152, 104);
    CHECK_REL(y.data(), want.data(), y.size(), p == GemmPath::Avx512Bf16 ? 5e-3 : 1e-5);
  }
  dimba::cpu::gemm_set_bf16_activations(false);
}

// Two threads split the columns; the result must not depend on the split.
void test_linear_threads() {
  auto x = randn(size_t(50) * 300);
  auto w = randn(size_t(777) * 300);
  std::vector<float> y1(size_t(50) * 777), y2(y1.size());
  dimba::cpu::linear_forward(y1.data(), x.data(), w.data(), DType::F32, nullptr, 50, 300, 777);
  dimba::cpu::gemm_set_threads(2);
  dimba::cpu::linear_forward(y2.data(), x.data(), w.data(), DType::F32, nullptr, 50, 300, 777);
  dimba::cpu::gemm_set_threads(1);
  CHECK(y1 == y2);
}

// K = 0 is a bias-only (or zero) layer; callers must not see the garbage that was in y.
void test_linear_empty_k() {
  std::vector<float> y(6, 7.0f), bias = {1, 2, 3};
  dimba::cpu::linear_forward(y.data(), nullptr, nullptr, DType::F32, bias.data(), 2, 0, 3);
  CHECK(y[0] == 1 && y[4] == 2 && y[5] == 3);
  dimba::cpu::linear_forward(y.data(), nullptr, nullptr, DType::BF16, nullptr, 2, 0, 3);
  CHECK(y[0] == 0 && y[5] == 0);
}

void test_linear_bad_dtype() {
  float x = 1, y = 0;
  int32_t w = 1;
  CHECK_THROWS_CODE(dimba::cpu::linear_forward(&y, &x, &w, DType::I32, nullptr, 1, 1, 1),
                    dimba::ErrorCode::InvalidArgument);
}

// Attention: scores = q k^T (transB), out = p v (no transposes), with strided views as the
// per-head slices of a [tokens, heads*dim] tensor are.
void check_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, float beta) {
  const int pad = 5;
  int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  auto A = randn(size_t(ta ? K : M) * lda), B = randn(size_t(tb ? N : K) * ldb);
  auto C = randn(size_t(M) * ldc), C0 = C;
  dimba::cpu::sgemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  std::vector<float> got, want;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double s = 0;
      for (int k = 0; k < K; ++k) {
        double a = ta ? A[size_t(k) * lda + i] : A[size_t(i) * lda + k];
        double b = tb ? B[size_t(j) * ldb + k] : B[size_t(k) * ldb + j];
        s += a * b;
      }
      want.push_back(float(alpha * s + beta * C0[size_t(i) * ldc + j]));
      got.push_back(C[size_t(i) * ldc + j]);
    }
  std::printf("    sgemm ta=%d tb=%d M=%d N=%d K=%d\n", ta, tb, M, N, K);
  CHECK_REL(got.data(), want.data(), got.size(), 1e-5);
  // Padding columns of C belong to other heads and must be untouched.
  for (int i = 0; i < M; ++i)
    for (int j = N; j < ldc; ++j) CHECK(C[size_t(i) * ldc + j] == C0[size_t(i) * ldc + j]);
}

void test_sgemm() {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      check_sgemm(ta, tb, 17, 33, 72, 1.0f, 0.0f);
      check_sgemm(ta, tb, 1, 3, 5, 0.5f, 1.0f);
      check_sgemm(ta, tb, 130, 72, 257, 0.125f, 0.5f);
    }
}

}  // namespace

int main() {
  RUN(test_linear_f32);
  RUN(test_linear_f16);
  RUN(test_linear_bf16);
  RUN(test_linear_default);
  RUN(test_linear_threads);
  RUN(test_linear_empty_k);
  RUN(test_linear_bad_dtype);
  RUN(test_sgemm);
  return harness::summary();
}
