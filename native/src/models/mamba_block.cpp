// Dimba's Mamba block (MODEL.md section 2) as the backend's op: its steps are in
// backend/composed.cpp, and a backend may run them fused (CUDA).
// defines: mamba_block_forward
#include "models/dimba.h"

namespace dimba {

void mamba_block_forward(float* out, const float* residual, const MambaBlockWeights& w, const DimbaConfig& cfg, int B,
                         int N, const Backend& be, Arena& arena) {
  MambaBlock m{w.norm_w, 1e-5f, w.in_proj_w.data, {}, w.out_proj_w.data, w.in_proj_w.dtype, cfg.hidden_size,
               cfg.d_inner(), cfg.d_state, cfg.dt_rank_resolved(), cfg.d_conv};
  for (int dir = 0; dir < 2; ++dir) {
    const MambaDirWeights& d = dir ? w.bwd : w.fwd;
    m.dir[dir] = {d.conv_w, d.conv_b, d.x_proj_w.data, d.dt_proj_w.data, d.dt_proj_b, d.A, d.D};
  }
  const size_t BN = size_t(B) * N, m0 = arena.mark();
  MambaBlockScratch s;
  s.h = arena.alloc_f32(BN * m.C);
  s.xz = arena.alloc_f32(BN * 2 * m.Di);
  s.u = arena.alloc_f32(BN * m.Di);
  s.xdbl = arena.alloc_f32(BN * (m.R + 2 * m.Ns));
  s.dt = arena.alloc_f32(BN * m.R);
  s.delta = arena.alloc_f32(BN * m.Di);
  s.y = arena.alloc_f32(BN * m.Di);
  be.mamba_block_forward(be, out, s, residual, m, B, N);
  arena.reset(m0);
}

}  // namespace dimba
