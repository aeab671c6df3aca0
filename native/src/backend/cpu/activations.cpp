// Pointwise activations. GELU is the tanh form everywhere in Dimba and T5 (MODEL.md 2, 4);
// softplus matches torch.nn.functional.softplus (which passes x through above 20) to 2e-9.
// They are a measurable share of the forward (the MLP hidden is [B,N,4C]), so each loop is a
// plain kernel on fast_expf/fast_log1pf compiled per ISA; GELU uses the identity
// 0.5(1 + tanh(a)) = sigmoid(2a), which has no cancellation for negative a.
// defines: gelu_tanh_forward, silu_forward, softplus_forward (and their _backward)
#include <cmath>

#include "backend/cpu/fast_math.h"
#include "backend/cpu/ops.h"
#include "core/threadpool.h"

namespace dimba::cpu {
namespace {

__attribute__((target_clones("avx512f", "avx2", "default")))
void gelu_kernel(float* out, const float* inp, int64_t n) {
  const float k2 = 2.0f * 0.7978845608028654f;  // 2 sqrt(2/pi)
  for (int64_t i = 0; i < n; ++i) {
    float x = inp[i];
    out[i] = x / (1.0f + fast_expf(-k2 * (x + 0.044715f * x * x * x)));
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void silu_kernel(float* out, const float* inp, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float x = inp[i];
    out[i] = x / (1.0f + fast_expf(-x));
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void softplus_kernel(float* out, const float* inp, int64_t n) {
  // softplus(x) = max(x, 0) + log1p(exp(-|x|)). torch returns x itself above 20; this form
  // differs from that by log1p(e^-20) ~ 2e-9, far below float resolution of x. Two passes
  // over a stack tile: GCC vectorises each half but not the two fused (it will not
  // if-convert the exp's clamps ahead of the log's divisions).
  float e[256];
  for (int64_t i0 = 0; i0 < n; i0 += 256) {
    const int64_t m = n - i0 < 256 ? n - i0 : 256;
    const float* x = inp + i0;
    for (int64_t i = 0; i < m; ++i) e[i] = fast_expf(-std::fabs(x[i]));
    for (int64_t i = 0; i < m; ++i) out[i0 + i] = (x[i] > 0.0f ? x[i] : 0.0f) + fast_log1pf(e[i]);
  }
}

}  // namespace

void gelu_tanh_forward(float* out, const float* inp, int64_t n) {
  ThreadPool::global().parallel_for(n, [&](int64_t i0, int64_t i1) { gelu_kernel(out + i0, inp + i0, i1 - i0); }, 16384);
}

void silu_forward(float* out, const float* inp, int64_t n) {
  ThreadPool::global().parallel_for(n, [&](int64_t i0, int64_t i1) { silu_kernel(out + i0, inp + i0, i1 - i0); }, 16384);
}

void softplus_forward(float* out, const float* inp, int64_t n) {
  ThreadPool::global().parallel_for(n, [&](int64_t i0, int64_t i1) { softplus_kernel(out + i0, inp + i0, i1 - i0); },
                                    16384);
}

}  // namespace dimba::cpu

namespace dimba::cpu {
namespace {

// Backward of the activations (gradients accumulate: dinp += dout * f'(inp)); inp is the
// pre-activation the forward read, so training keeps it. On fast_expf like the forwards: in
// double std:: maths they were ~15% of a built-in model training step (perf). Agreement with
// the double formulas is checked in tests/test_backward_ops.cpp.
// gelu_tanh: with a = k (x + 0.044715 x^3), th = tanh(a) = 2 s - 1 for s = sigmoid(2a):
//   d/dx = 0.5 (1 + th) + 0.5 x (1 - th^2) k (1 + 3 * 0.044715 x^2)
//        = s + 2 x s (1 - s) k (1 + 3 * 0.044715 x^2)   (no cancellation for either sign).
__attribute__((target_clones("avx512f", "avx2", "default")))
void gelu_backward_kernel(float* dinp, const float* dout, const float* inp, int64_t n) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  for (int64_t i = 0; i < n; ++i) {
    const float x = inp[i];
    const float s = 1.0f / (1.0f + fast_expf(-2.0f * k * (x + 0.044715f * x * x * x)));
    const float d = s + 2.0f * x * s * (1.0f - s) * k * (1.0f + 3.0f * 0.044715f * x * x);
    dinp[i] += dout[i] * d;
  }
}

// silu: d/dx = s (1 + x (1 - s)), s = sigmoid(x).
__attribute__((target_clones("avx512f", "avx2", "default")))
void silu_backward_kernel(float* dinp, const float* dout, const float* inp, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = inp[i];
    const float s = 1.0f / (1.0f + fast_expf(-x));
    dinp[i] += dout[i] * s * (1.0f + x * (1.0f - s));
  }
}

// softplus: d/dx = sigmoid(x), and 1 above the threshold 20 where the forward passes x.
__attribute__((target_clones("avx512f", "avx2", "default")))
void softplus_backward_kernel(float* dinp, const float* dout, const float* inp, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = inp[i];
    const float d = x > 20.0f ? 1.0f : 1.0f / (1.0f + fast_expf(-x));
    dinp[i] += dout[i] * d;
  }
}

}  // namespace

void gelu_tanh_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  ThreadPool::global().parallel_for(
      n, [&](int64_t i0, int64_t i1) { gelu_backward_kernel(dinp + i0, dout + i0, inp + i0, i1 - i0); }, 16384);
}

void silu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  ThreadPool::global().parallel_for(
      n, [&](int64_t i0, int64_t i1) { silu_backward_kernel(dinp + i0, dout + i0, inp + i0, i1 - i0); }, 16384);
}

void softplus_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  ThreadPool::global().parallel_for(
      n, [&](int64_t i0, int64_t i1) { softplus_backward_kernel(dinp + i0, dout + i0, inp + i0, i1 - i0); }, 16384);
}

}  // namespace dimba::cpu
