// Elementwise adds (the Mamba residual stream, biases broadcast over rows).
// defines: add_forward, add_row_forward
#include "backend/cpu/ops.h"
#include "core/threadpool.h"

namespace dimba::cpu {

void add_forward(float* out, const float* a, const float* b, int64_t n) {
  ThreadPool::global().parallel_for(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) out[i] = a[i] + b[i];
  }, 16384);
}

void add_row_forward(float* out, const float* a, const float* row, int64_t rows, int C) {
  ThreadPool::global().parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int i = 0; i < C; ++i) out[r * C + i] = a[r * C + i] + row[i];
  }, 64);
}

}  // namespace dimba::cpu
