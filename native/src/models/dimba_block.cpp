// DimbaBlock (the PixArt-style attention block, MODEL.md section 2):
//   x = x + gate_msa * attn(LN(x)*(1+scale_msa)+shift_msa)
//   x = x + cross_attn(x, yy)                      (no gate, no norm; per-sample text lengths)
//   x = x + gate_mlp * mlp(LN(x)*(1+scale_mlp)+shift_mlp)
// with [shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp] = table[6,C] + t0[b].
// Scratch per stage from the arena, released after each stage: the peak is about 5 [B,N,C]
// (the MLP's [B,N,4C] hidden plus one [B,N,C]).
// defines: dimba_block_forward, layernorm_modulate
#include "models/dimba.h"

namespace dimba {

void layernorm_modulate(float* out, const float* x, const float* shift, const float* scale, int64_t mod_stride,
                        const float* ones, float* w1, int B, int N, int C, const Backend& be) {
  for (int b = 0; b < B; ++b) {
    const int64_t rows = int64_t(b) * N * C;
    be.add_forward(w1 + int64_t(b) * C, scale + b * mod_stride, ones, C);
    be.layernorm_forward(out + rows, nullptr, nullptr, x + rows, w1 + int64_t(b) * C, shift + b * mod_stride, N, C,
                         1e-6f);
  }
}

void dimba_block_forward(float* x, const float* yy, const int* y_lens, const float* t0, const DimbaBlockWeights& w,
                         const float* ones, const DimbaConfig& cfg, int B, int N, int L, const Backend& be,
                         Arena& arena) {
  const int C = cfg.hidden_size, H = cfg.num_heads, Hm = cfg.mlp_hidden();
  const int64_t BN = int64_t(B) * N;
  const size_t m0 = arena.mark();

  // mod [B, 6, C] = scale_shift_table + t0 (t0 is [B, 6C] viewed as [B, 6, C]).
  float* mod = arena.alloc_f32(size_t(B) * 6 * C);
  float* w1 = arena.alloc_f32(size_t(B) * C);  // 1 + scale, for layernorm_modulate
  for (int b = 0; b < B; ++b) be.add_forward(mod + int64_t(b) * 6 * C, t0 + int64_t(b) * 6 * C, w.scale_shift_table, 6 * C);
  const float *shift_msa = mod, *scale_msa = mod + C, *gate_msa = mod + 2 * C;
  const float *shift_mlp = mod + 3 * C, *scale_mlp = mod + 4 * C, *gate_mlp = mod + 5 * C;
  const size_t m1 = arena.mark();

  {  // self-attention
    float* h = arena.alloc_f32(size_t(BN) * C);        // (B, N, C)
    float* qkv = arena.alloc_f32(size_t(BN) * 3 * C);  // (B, N, 3C) = [q | k | v]
    layernorm_modulate(h, x, shift_msa, scale_msa, 6 * C, ones, w1, B, N, C, be);
    // The attention output overwrites h (dead once qkv exists), the projection qkv (dead once
    // the attention output exists).
    float* o = qkv;
    be.self_attention_forward(o, qkv, h, h, w.attn_qkv_w.data, w.attn_qkv_b, w.attn_proj_w.data, w.attn_proj_b,
                              w.attn_qkv_w.dtype, B, N, C, H);
    be.gated_residual_forward(x, o, gate_msa, B, N, C, 6 * C);
    arena.reset(m1);
  }
  {  // cross-attention to the sample's own text tokens (MODEL.md 2.6)
    float* q = arena.alloc_f32(size_t(BN) * C);         // (B, N, C)
    float* kv = arena.alloc_f32(size_t(B) * L * 2 * C);  // (B, L, 2C) = [k | v]
    float* a = arena.alloc_f32(size_t(BN) * C);         // (B, N, C)
    // x += proj(attention): the output projection accumulates straight onto the residual stream.
    be.cross_attention_forward(x, q, kv, a, yy, y_lens, w.cross_q_w.data, w.cross_q_b, w.cross_kv_w.data,
                               w.cross_kv_b, w.cross_proj_w.data, w.cross_proj_b, w.cross_q_w.dtype, B, N, L, C, H);
    arena.reset(m1);
  }
  {  // MLP
    float* h = arena.alloc_f32(size_t(BN) * C);        // (B, N, C)
    float* hid = arena.alloc_f32(size_t(BN) * Hm);     // (B, N, Hm)
    layernorm_modulate(h, x, shift_mlp, scale_mlp, 6 * C, ones, w1, B, N, C, be);
    be.mlp_forward(h, hid, h, w.mlp_fc1_w.data, w.mlp_fc1_b, w.mlp_fc2_w.data, w.mlp_fc2_b, w.mlp_fc1_w.dtype,
                   int(BN), C, Hm, C);
    be.gated_residual_forward(x, h, gate_mlp, B, N, C, 6 * C);
  }
  arena.reset(m0);
}

}  // namespace dimba
