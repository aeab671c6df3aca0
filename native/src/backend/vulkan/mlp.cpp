// Vulkan mlp_forward: the two Linears and the GELU between them as three dispatches (see
// backend/cpu/ops.h for the semantics).
// defines: vk::mlp_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {

void mlp_forward(float* y, float* hidden, const float* x, const void* w1, const float* b1, const void* w2,
                 const float* b2, DType wdtype, int M, int K, int H, int N) {
  linear_forward(hidden, x, w1, wdtype, b1, M, K, H, false);
  gelu_tanh_forward(hidden, hidden, int64_t(M) * H);
  linear_forward(y, hidden, w2, wdtype, b2, M, H, N, false);
}

}  // namespace dimba::vk
#endif
