// The bidirectional ("v2") Mamba mixer of Dimba (MODEL.md section 2):
//   xz = in_proj(h) -> x, z (first half x); for each direction: u = SiLU(causal_conv(x)),
//   x_dbl = x_proj(u) = [dt_raw | B | C], delta = softplus(dt_proj(dt_raw)), scan, * SiLU(z);
// (the conv's SiLU and delta's softplus are taken inside the conv and the scan ops);
//   out = out_proj(y_fwd + flip(y_bwd)).
// The backward direction runs the conv and the scan with time reversed in place
// (ops.h: `reverse`), which equals flip -> op -> flip without the copies, and its scan adds
// onto y_fwd (no averaging, MODEL.md). Per-token Linears are order independent, so they see
// the unflipped rows.
// defines: mamba_mixer_forward
#include "models/dimba.h"

namespace dimba {

void mamba_mixer_forward(float* out, const float* h, const MambaBlockWeights& w, const DimbaConfig& cfg, int B, int N,
                         const Backend& be, Arena& arena) {
  const int C = cfg.hidden_size, Di = cfg.d_inner(), Ns = cfg.d_state, R = cfg.dt_rank_resolved(), K = cfg.d_conv;
  const int xs = R + 2 * Ns;  // x_dbl row: [dt_raw (R) | B (Ns) | C (Ns)]
  const int64_t BN = int64_t(B) * N;
  const size_t m0 = arena.mark();
  float* xz = arena.alloc_f32(size_t(BN) * 2 * Di);  // (B, N, 2Di) = [x | z]
  float* u = arena.alloc_f32(size_t(BN) * Di);       // (B, N, Di)
  float* xdbl = arena.alloc_f32(size_t(BN) * xs);    // (B, N, R + 2Ns)
  float* dt = arena.alloc_f32(size_t(BN) * R);       // (B, N, R) contiguous copy for the GEMM
  float* delta = arena.alloc_f32(size_t(BN) * Di);   // (B, N, Di)
  float* y = arena.alloc_f32(size_t(BN) * Di);       // (B, N, Di) y_fwd + flip(y_bwd)

  be.linear_forward(xz, h, w.in_proj_w.data, w.in_proj_w.dtype, nullptr, int(BN), C, 2 * Di, false);
  for (int dir = 0; dir < 2; ++dir) {
    const MambaDirWeights& d = dir ? w.bwd : w.fwd;
    const bool reverse = dir == 1;
    for (int b = 0; b < B; ++b)
      be.conv1d_causal_depthwise_silu_forward(u + int64_t(b) * N * Di, xz + int64_t(b) * N * 2 * Di, d.conv_w,
                                              d.conv_b, N, Di, K, 2 * Di, reverse);
    be.linear_forward(xdbl, u, d.x_proj_w.data, d.x_proj_w.dtype, nullptr, int(BN), Di, xs, false);
    be.copy_rows_forward(dt, xdbl, BN, R, R, xs);  // the dt_raw columns, contiguous for the GEMM
    // delta's softplus is taken by the scan as it loads delta (delta_softplus below).
    be.linear_forward(delta, dt, d.dt_proj_w.data, d.dt_proj_w.dtype, d.dt_proj_b, int(BN), R, Di, false);
    for (int b = 0; b < B; ++b) {
      const int64_t t0 = int64_t(b) * N;
      be.selective_scan_forward(y + t0 * Di, u + t0 * Di, delta + t0 * Di, d.A, xdbl + t0 * xs + R,
                                xdbl + t0 * xs + R + Ns, d.D, xz + t0 * 2 * Di + Di, N, Di, Ns, xs, 2 * Di, reverse,
                                /*accumulate=*/reverse, /*delta_softplus=*/true);
    }
  }
  be.linear_forward(out, y, w.out_proj_w.data, w.out_proj_w.dtype, nullptr, int(BN), Di, C, false);
  arena.reset(m0);
}

}  // namespace dimba
