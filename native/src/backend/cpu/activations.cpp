// Pointwise activations. GELU is the tanh form everywhere in Dimba and T5 (MODEL.md 2, 4);
// softplus passes x through above 20 like torch.nn.functional.softplus (threshold 20).
// defines: gelu_tanh_forward, silu_forward, softplus_forward
#include <cmath>

#include "backend/cpu/ops.h"
#include "core/threadpool.h"

namespace dimba::cpu {

void gelu_tanh_forward(float* out, const float* inp, int64_t n) {
  const float k = 0.7978845608028654f;  // sqrt(2/pi)
  ThreadPool::global().parallel_for(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      float x = inp[i];
      out[i] = 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
    }
  }, 4096);
}

void silu_forward(float* out, const float* inp, int64_t n) {
  ThreadPool::global().parallel_for(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      float x = inp[i];
      out[i] = x / (1.0f + std::exp(-x));
    }
  }, 4096);
}

void softplus_forward(float* out, const float* inp, int64_t n) {
  ThreadPool::global().parallel_for(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      float x = inp[i];
      out[i] = x > 20.0f ? x : std::log1p(std::exp(x));
    }
  }, 4096);
}

}  // namespace dimba::cpu
