// Dimba's two blocks as backend ops, and the compositions of a backend's other ops that run
// them where a backend has no fused kernel of its own (composed.cpp). A block op takes the
// table it was reached through (`be`) first, so that its composition calls that table's ops
// (a profiling copy then times them one by one); CUDA runs a fused path where it applies.
// Weights and scratch are device pointers of `be`, f32 unless a dtype says otherwise.
// defines: DimbaBlock, DimbaBlockScratch, MambaDirection, MambaBlock, MambaBlockScratch,
//          composed_dimba_block_forward, composed_mamba_block_forward, composed_layernorm_modulate
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace dimba {

struct Backend;

// ---- the attention block ---------------------------------------------------------------------
// Dimba's attention block (PixArt's; MODEL.md section 2) on the residual stream x [B N, C], in
// place:
//   x += gate_msa * self_attention(LN(x) (1 + scale_msa) + shift_msa)
//   x += cross_attention(x, ctx)     (sample b attends to its first ctx_lens[b] of L tokens)
//   x += gate_mlp * mlp(LN(x) (1 + scale_mlp) + shift_mlp)
// with [shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp] = table + t0[b] (t0
// [B, 6C] as [B, 6, C]); LayerNorm without affine, eps 1e-6. Weights as the attention ops and
// mlp_forward take them, all Linears in wdtype; `ones` is [C] of 1 (the composition forms
// 1 + scale with add_forward).
struct DimbaBlock {
  const float *table, *ones;  // scale_shift_table [6, C]
  const void *qkv_w, *proj_w, *q_w, *kv_w, *cross_proj_w, *fc1_w, *fc2_w;
  const float *qkv_b, *proj_b, *q_b, *kv_b, *cross_proj_b, *fc1_b, *fc2_b;
  DType wdtype;
  int C, H, Hm;  // hidden, heads, MLP hidden
};
// The op's scratch, f32 of these shapes: mod [B, 6C], w1 [B, C], h [B N, C]; then per stage
// qkv [B N, 3C] (self-attention), q [B N, C], kv [B L, 2C], a [B N, C] (cross-attention), hid
// [B N, Hm] (MLP). The stages run one after another, so one stage's buffers may share memory
// with another's (the model's do). A backend may hand the steps bf16 instead (CUDA).
struct DimbaBlockScratch {
  float *mod, *w1, *h, *qkv, *q, *kv, *a, *hid;
};
void composed_dimba_block_forward(const Backend& be, float* x, const DimbaBlockScratch& s, const float* ctx,
                                  const int* ctx_lens, const float* t0, const DimbaBlock& w, int B, int N, int L);

// ---- the Mamba block -------------------------------------------------------------------------
// Dimba's Mamba block (MODEL.md section 2): its bidirectional mixer on the RMSNorm of the
// residual stream, out [B N, C] from residual [B N, C]. Weights: the norm's [C]; in_proj
// [2 Di, C]; per direction the conv taps [Di, K] and bias, x_proj [R + 2 Ns, Di], dt_proj
// [Di, R] and bias, A [Di, Ns] (= -exp(A_log)) and D [Di]; out_proj [C, Di]. The Linears in
// wdtype, the rest f32.
struct MambaDirection {
  const float *conv_w, *conv_b;
  const void *x_proj_w, *dt_proj_w;
  const float *dt_proj_b, *A, *D;
};
struct MambaBlock {
  const float* norm_w;
  float norm_eps;
  const void* in_proj_w;
  MambaDirection dir[2];  // forward in time, then backward
  const void* out_proj_w;
  DType wdtype;
  int C, Di, Ns, R, K;  // hidden, d_inner, d_state, dt_rank, d_conv
};
// The op's scratch (overwritten), f32 of these shapes: h [B N, C], xz [B N, 2 Di], u [B N, Di],
// xdbl [B N, R + 2 Ns], dt [B N, R], delta [B N, Di], y [B N, Di]. A backend may hand the steps
// their values in another form (CUDA, in its tensor-core mode with bf16 weights: bf16).
struct MambaBlockScratch {
  float *h, *xz, *u, *xdbl, *dt, *delta, *y;
};
void composed_mamba_block_forward(const Backend& be, float* out, const MambaBlockScratch& s, const float* residual,
                                  const MambaBlock& m, int B, int N);

// out[b] = LN(x[b]) * (1 + scale_b) + shift_b (LayerNorm without affine, eps 1e-6; shift_b =
// shift + b * mod_stride, likewise scale) in one pass over x: the modulation is LayerNorm's own
// affine with the per-sample weight 1 + scale_b, formed in `w1` [B, C] from `ones` [C].
void composed_layernorm_modulate(const Backend& be, float* out, const float* x, const float* shift, const float* scale,
                                 int64_t mod_stride, const float* ones, float* w1, int B, int N, int C);

}  // namespace dimba
