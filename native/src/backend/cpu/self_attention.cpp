// Self-attention on the CPU: the qkv projection, the attention and the output projection as
// three ops (handing them bf16 between each other is a GPU matter: see ops.h).
// defines: self_attention_forward
#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"

namespace dimba::cpu {

void self_attention_forward(float* y, float* qkv, float* a, const float* x, const void* w_qkv, const float* b_qkv,
                            const void* w_proj, const float* b_proj, DType wdtype, int B, int N, int C, int H) {
  const int M = B * N, hd = C / H;
  linear_forward(qkv, x, w_qkv, wdtype, b_qkv, M, C, 3 * C);
  attention_forward(a, qkv, qkv + C, qkv + 2 * C, nullptr, B, N, N, H, hd, 3 * C, 3 * C, C);
  linear_forward(y, a, w_proj, wdtype, b_proj, M, C, C);
}

}  // namespace dimba::cpu
