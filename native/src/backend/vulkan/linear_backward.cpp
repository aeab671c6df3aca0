// Vulkan linear_backward: dx += dy @ w and dw += dy^T @ x on sgemm (beta 1 accumulates),
// db += the column sums of dy (sum_rows.comp), as the CPU's two GEMMs and a reduction.
// defines: vk::linear_backward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {

void linear_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w, int M, int K,
                     int N) {
  if (M == 0) return;
  if (dx) sgemm(false, false, M, K, N, 1.0f, dy, N, w, K, 1.0f, dx, K);
  if (dw) sgemm(true, false, N, K, M, 1.0f, dy, N, x, K, 1.0f, dw, K);
  if (db) sum_rows_accumulate(db, dy, nullptr, 1, M, N, 0);
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
