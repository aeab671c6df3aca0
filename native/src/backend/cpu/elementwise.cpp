// Elementwise adds (the Mamba residual stream, biases broadcast over rows), the product and
// the row copy that let models move activations without touching device memory from the host.
// defines: add_forward, add_row_forward, mul_forward, copy_rows_forward, add_backward, add_row_backward
#include <cstring>

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

void mul_forward(float* out, const float* a, const float* b, int64_t n) {
  ThreadPool::global().parallel_for(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) out[i] = a[i] * b[i];
  }, 16384);
}

// One thread: a copy is memory-bound and every caller's copy is small next to its GEMMs.
void copy_rows_forward(float* out, const float* inp, int64_t rows, int C, int64_t out_stride, int64_t in_stride) {
  if (out_stride == C && in_stride == C) {
    std::memcpy(out, inp, size_t(rows) * size_t(C) * sizeof(float));
    return;
  }
  for (int64_t r = 0; r < rows; ++r) std::memcpy(out + r * out_stride, inp + r * in_stride, size_t(C) * sizeof(float));
}

}  // namespace dimba::cpu

namespace dimba::cpu {

// Backward of add_forward (gradients accumulate): da += dout, db += dout (either may be null).
void add_backward(float* da, float* db, const float* dout, int64_t n) {
  ThreadPool::global().parallel_for(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      if (da) da[i] += dout[i];
      if (db) db[i] += dout[i];
    }
  }, 16384);
}

// Backward of add_row_forward: da += dout, drow += sum over rows (one thread: a reduction).
void add_row_backward(float* da, float* drow, const float* dout, int64_t rows, int C) {
  for (int64_t r = 0; r < rows; ++r)
    for (int i = 0; i < C; ++i) {
      if (da) da[r * C + i] += dout[r * C + i];
      if (drow) drow[i] += dout[r * C + i];
    }
}

}  // namespace dimba::cpu
