// The MLP on the CPU: the two Linears and the GELU between them, as three ops (the fused form
// is a GPU matter: see mlp_forward in ops.h).
// defines: mlp_forward
#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"

namespace dimba::cpu {

void mlp_forward(float* y, float* hidden, const float* x, const void* w1, const float* b1, const void* w2,
                 const float* b2, DType wdtype, int M, int K, int H, int N) {
  linear_forward(hidden, x, w1, wdtype, b1, M, K, H);
  gelu_tanh_forward(hidden, hidden, int64_t(M) * H);
  linear_forward(y, hidden, w2, wdtype, b2, M, H, N);
}

}  // namespace dimba::cpu
