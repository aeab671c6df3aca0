// The whole Dimba forward (MODEL.md section 2, steps 1-9). Activations come from the model's
// arena: the tensors that live across blocks (x, the Mamba residual stream, yy, temb, t0) are
// allocated first, then each block's scratch is carved after them and released when the
// block ends, so the next block reuses it (peak: the live tensors plus one block's scratch).
// On a backend whose memory is not the host's, the inputs are uploaded into the arena first,
// the output downloaded last, and each hooked activation downloaded for the hook; the CPU
// reads and writes the caller's buffers in place (models/backend_io.h). forward_device skips the
// staging (its inputs are already device memory), for callers that keep them there.
// defines: DimbaModel::forward, DimbaModel::forward_device
#include <algorithm>

#include "core/error.h"
#include "core/fpenv.h"
#include "models/backend_io.h"
#include "models/dimba.h"
#include "sampling/prediction.h"

namespace dimba {

void DimbaModel::check_sizes(int B, int H, int W, int L) const {
  const int p = cfg_.patch_size;
  auto bad = [](const std::string& m) { throw EngineError(ErrorCode::InvalidArgument, "Dimba forward: " + m); };
  if (B < 1 || B > 4096) bad("batch size " + std::to_string(B));
  if (H < p || W < p || H % p || W % p || H > 65536 || W > 65536)
    bad("latent " + std::to_string(H) + "x" + std::to_string(W) + " is not a positive multiple of patch " +
        std::to_string(p));
  if (L < 1 || L > 65536) bad("text length " + std::to_string(L));
}

void DimbaModel::forward(float* out, const float* x_in, const float* t, const float* y, const int* y_lens, int B,
                         int H, int W, int L, const ActivationHook& hook) {
  const DimbaConfig& c = cfg_;
  const Backend& be = *be_;
  check_sizes(B, H, W, L);
  if (y_lens)
    for (int b = 0; b < B; ++b)
      if (y_lens[b] < 0 || y_lens[b] > L)
        throw EngineError(ErrorCode::InvalidArgument,
                          "Dimba forward: y_lens[" + std::to_string(b) + "] outside 0.." + std::to_string(L));
  ScopedFlushDenormals ftz;  // MODEL.md 3: the scan decays into denormals
  Arena& arena = *arena_;
  arena.reset(0);
  // The inputs and the output where the ops see them (the caller's own buffers on CPU).
  const size_t n_out = size_t(B) * c.out_channels * H * W;
  float* out_d = output_buffer(be, arena, out, n_out);                              // (B, out, H, W)
  const float* x_d = stage_in(be, arena, x_in, size_t(B) * c.in_channels * H * W);  // (B, in, H, W)
  const float* t_d = stage_in(be, arena, t, size_t(B));                              // (B)
  const float* y_d = stage_in(be, arena, y, size_t(B) * L * c.caption_channels);     // (B, 1, L, Ccap)
  const int* lens_d = stage_in(be, arena, y_lens, size_t(B));                        // (B) or null
  forward_core(out_d, x_d, t_d, y_d, lens_d, B, H, W, L, hook);
  stage_out(be, out, out_d, n_out);
  answer_in_eps(out, x_in, t, B, H, W);  // 10.
}

void DimbaModel::answer_in_eps(float* out, const float* x, const float* t, int B, int H, int W) const {
  const DimbaConfig& c = cfg_;
  if (c.prediction != DimbaConfig::Prediction::Epsilon)
    prediction_to_eps(out, x, t, B, c.in_channels, c.out_channels, int64_t(H) * W, c.prediction,
                      DiscreteVpSchedule::dimba());
}

void DimbaModel::forward_device(float* out, const float* x, const float* t, const float* y, const int* y_lens, int B,
                                int H, int W, int L) {
  check_sizes(B, H, W, L);
  ScopedFlushDenormals ftz;
  arena_->reset(0);
  forward_core(out, x, t, y, y_lens, B, H, W, L, nullptr);
}

void DimbaModel::forward_core(float* out_d, const float* x_d, const float* t_d, const float* y_d, const int* lens_d,
                              int B, int H, int W, int L, const ActivationHook& hook) {
  const DimbaConfig& c = cfg_;
  const Backend& be = *be_;
  const int p = c.patch_size, C = c.hidden_size;
  const int h = H / p, w = W / p, N = h * w;
  const int64_t BN = int64_t(B) * N;
  const int out_row = p * p * c.out_channels;
  std::vector<float> hook_copy;
  auto emit = [&](const std::string& name, const float* d, std::vector<int64_t> shape) {
    if (hook) hook(name, host_view(be, d, size_t(shape_numel(shape)), hook_copy), shape);
  };
  Arena& arena = *arena_;
  float* x = arena.alloc_f32(size_t(BN) * C);         // (B, N, C) the block stream
  float* residual = arena.alloc_f32(size_t(BN) * C);  // (B, N, C) the Mamba residual stream
  float* yy = arena.alloc_f32(size_t(B) * L * C);     // (B, L, C)
  float* temb = arena.alloc_f32(size_t(B) * C);       // (B, C)
  float* t0 = arena.alloc_f32(size_t(B) * 6 * C);     // (B, 6C)
  const size_t live = arena.mark();

  // 1-2. patch embedding, then the 2-D sin-cos position embedding for this (h, w).
  be.patch_embed_forward(x, x_d, w_.x_embed_w.data, w_.x_embed_w.dtype, w_.x_embed_b, B, c.in_channels, H, W, p, C);
  emit("act.x_embedder", x, {B, N, C});
  {
    float* pe = arena.alloc_f32(size_t(N) * C);  // (N, C)
    be.sincos_pos_embed_2d(pe, C, h, w, double(c.input_size / p), c.pe_interpolation);
    for (int b = 0; b < B; ++b) be.add_forward(x + int64_t(b) * N * C, x + int64_t(b) * N * C, pe, int64_t(N) * C);
    arena.reset(live);
  }
  // 3-4. timestep embedding and the adaLN-single table.
  {
    float* tf = arena.alloc_f32(size_t(B) * 256);  // (B, 256)
    float* hid = arena.alloc_f32(size_t(B) * C);   // (B, C)
    be.timestep_embedding_forward(tf, t_d, B, 256, 10000.0);
    be.linear_forward(hid, tf, w_.t_mlp0_w.data, w_.t_mlp0_w.dtype, w_.t_mlp0_b, B, 256, C, false);
    be.silu_forward(hid, hid, int64_t(B) * C);
    be.linear_forward(temb, hid, w_.t_mlp2_w.data, w_.t_mlp2_w.dtype, w_.t_mlp2_b, B, C, C, false);
    emit("act.t_embedder", temb, {B, C});
    be.silu_forward(hid, temb, int64_t(B) * C);
    be.linear_forward(t0, hid, w_.t_block_w.data, w_.t_block_w.dtype, w_.t_block_b, B, C, 6 * C, false);
    emit("act.t_block", t0, {B, 6 * C});
    arena.reset(live);
  }
  // 5. caption projection, on all L tokens (sample b later attends to its first y_lens[b]).
  {
    float* hid = arena.alloc_f32(size_t(B) * L * C);  // (B, L, C)
    be.mlp_forward(yy, hid, y_d, w_.y_fc1_w.data, w_.y_fc1_b, w_.y_fc2_w.data, w_.y_fc2_b, w_.y_fc1_w.dtype, B * L,
                   c.caption_channels, C, C);
    emit("act.y_embedder", yy, {B, 1, L, C});
    arena.reset(live);
  }
  // 7. blocks, with the Mamba residual dataflow quirk.
  bool have_residual = false;
  for (int i = 0; i < c.depth; ++i) {
    dimba_block_forward(x, yy, lens_d, t0, w_.blocks[size_t(i)], w_.ones, c, B, N, L, be, arena);
    emit("act.blocks." + std::to_string(i), x, {B, N, C});
    const int j = c.mamba_after_block(i);
    if (j < 0) continue;
    // Quirk (MODEL.md 2.7): residual = x (first time) or x + residual, in float32; the mixer
    // reads RMSNorm(residual) and its output replaces x; the residual is never added back.
    if (have_residual)
      be.add_forward(residual, x, residual, BN * C);
    else
      be.copy_rows_forward(residual, x, BN, C, C, C);
    have_residual = true;
    mamba_block_forward(x, residual, w_.mamba_blocks[size_t(j)], c, B, N, be, arena);
    arena.reset(live);
    emit("act.mamba_blocks." + std::to_string(j), x, {B, N, C});
    emit("act.mamba_blocks." + std::to_string(j) + ".residual", residual, {B, N, C});
  }
  // 8. final layer, modulated by temb (quirk: not t0).
  {
    float* mod = arena.alloc_f32(size_t(B) * 2 * C);       // (B, 2, C) = [shift | scale]
    float* w1 = arena.alloc_f32(size_t(B) * C);            // (B, C) 1 + scale
    float* hn = arena.alloc_f32(size_t(BN) * C);           // (B, N, C)
    float* fo = arena.alloc_f32(size_t(BN) * out_row);     // (B, N, p*p*out)
    for (int b = 0; b < B; ++b) {
      be.add_forward(mod + int64_t(b) * 2 * C, w_.final_table, temb + int64_t(b) * C, C);
      be.add_forward(mod + int64_t(b) * 2 * C + C, w_.final_table + C, temb + int64_t(b) * C, C);
    }
    composed_layernorm_modulate(be, hn, x, mod, mod + C, 2 * C, w_.ones, w1, B, N, C);
    be.linear_forward(fo, hn, w_.final_w.data, w_.final_w.dtype, w_.final_b, int(BN), C, out_row, false);
    emit("act.final_layer", fo, {B, N, out_row});
    // 9. unpatchify.
    be.unpatchify_forward(out_d, fo, B, c.out_channels, h, w, p);
    arena.reset(live);
  }
}

}  // namespace dimba
