// Self- and cross-attention on the CPU: the projections and the attention as separate ops
// (handing them bf16 between each other is a GPU matter: see ops.h).
// defines: self_attention_forward, cross_attention_forward
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

void cross_attention_forward(float* x, float* q, float* kv, float* a, const float* ctx, const int* ctx_lens,
                             const void* w_q, const float* b_q, const void* w_kv, const float* b_kv, const void* w_proj,
                             const float* b_proj, DType wdtype, int B, int N, int L, int C, int H) {
  const int hd = C / H;
  linear_forward(q, x, w_q, wdtype, b_q, B * N, C, C);
  linear_forward(kv, ctx, w_kv, wdtype, b_kv, B * L, C, 2 * C);
  attention_forward(a, q, kv, kv + C, ctx_lens, B, N, L, H, hd, C, 2 * C, C);
  linear_forward(x, a, w_proj, wdtype, b_proj, B * N, C, C, true);
}

}  // namespace dimba::cpu
