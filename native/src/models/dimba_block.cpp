// DimbaBlock (the PixArt-style attention block, MODEL.md section 2) as the backend's op: its
// steps are in backend/composed.cpp, and a backend may run them fused (CUDA). Scratch from the
// arena, the three stages' buffers overlaid: the peak is about 5 [B, N, C] (the MLP's [B, N, 4C]
// hidden plus h).
// defines: dimba_block_forward
#include <algorithm>

#include "models/dimba.h"

namespace dimba {

void dimba_block_forward(float* x, const float* yy, const int* y_lens, const float* t0, const DimbaBlockWeights& w,
                         const float* ones, const DimbaConfig& cfg, int B, int N, int L, const Backend& be,
                         Arena& arena) {
  const int C = cfg.hidden_size, Hm = cfg.mlp_hidden();
  // Weights in the order of DimbaBlock: the table, then the Linears' weights, then biases.
  const DimbaBlock blk{w.scale_shift_table, ones,
                       w.attn_qkv_w.data, w.attn_proj_w.data, w.cross_q_w.data, w.cross_kv_w.data,
                       w.cross_proj_w.data, w.mlp_fc1_w.data, w.mlp_fc2_w.data,
                       w.attn_qkv_b, w.attn_proj_b, w.cross_q_b, w.cross_kv_b, w.cross_proj_b, w.mlp_fc1_b,
                       w.mlp_fc2_b, w.attn_qkv_w.dtype, C, cfg.num_heads, Hm};
  const size_t BN = size_t(B) * N, BL = size_t(B) * L, m0 = arena.mark();
  DimbaBlockScratch s;
  s.mod = arena.alloc_f32(size_t(B) * 6 * C);
  s.w1 = arena.alloc_f32(size_t(B) * C);
  s.h = arena.alloc_f32(BN * C);
  // One region for the stages' own buffers: qkv; then q, kv, a; then hid.
  float* stage = arena.alloc_f32(std::max({BN * 3 * C, BN * C * 2 + BL * 2 * C, BN * Hm}));
  s.qkv = stage;
  s.q = stage;
  s.kv = stage + BN * C;
  s.a = s.kv + BL * 2 * C;
  s.hid = stage;
  be.dimba_block_forward(be, x, s, yy, y_lens, t0, blk, B, N, L);
  arena.reset(m0);
}

}  // namespace dimba
