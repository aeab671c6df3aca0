// Ops composed of a backend's other ops, for the backends without a kernel of their own.
//
// Dimba's Mamba block (MODEL.md section 2): h = RMSNorm(residual), then the bidirectional ("v2")
// mixer:
//   xz = in_proj(h) -> x, z (first half x); for each direction: u = SiLU(causal_conv(x)),
//   x_dbl = x_proj(u) = [dt_raw | B | C], delta = softplus(dt_proj(dt_raw)), scan, * SiLU(z);
//   out = out_proj(y_fwd + flip(y_bwd)).
// (the conv's SiLU and delta's softplus are taken inside the conv and the scan ops). The
// backward direction runs the conv and the scan with time reversed in place (ops.h: `reverse`),
// which equals flip -> op -> flip without the copies, and its scan adds onto y_fwd (no
// averaging, MODEL.md). Per-token Linears are order independent, so they see the unflipped rows.
// defines: composed_mamba_block_forward
#include "backend/backend.h"

namespace dimba {

void composed_mamba_block_forward(const Backend& be, float* out, const cpu::MambaBlockScratch& s,
                                  const float* residual, const cpu::MambaBlock& m, int B, int N) {
  const int C = m.C, Di = m.Di, Ns = m.Ns, R = m.R, xs = R + 2 * Ns;  // x_dbl row: [dt_raw | B | C]
  const int64_t BN = int64_t(B) * N;
  be.rmsnorm_forward(s.h, nullptr, residual, m.norm_w, BN, C, m.norm_eps);
  be.linear_forward(s.xz, s.h, m.in_proj_w, m.wdtype, nullptr, int(BN), C, 2 * Di, false);
  for (int dir = 0; dir < 2; ++dir) {
    const cpu::MambaDirection& d = m.dir[dir];
    const bool reverse = dir == 1;
    for (int b = 0; b < B; ++b)
      be.conv1d_causal_depthwise_silu_forward(s.u + int64_t(b) * N * Di, s.xz + int64_t(b) * N * 2 * Di, d.conv_w,
                                              d.conv_b, N, Di, m.K, 2 * Di, reverse);
    be.linear_forward(s.xdbl, s.u, d.x_proj_w, m.wdtype, nullptr, int(BN), Di, xs, false);
    be.copy_rows_forward(s.dt, s.xdbl, BN, R, R, xs);  // the dt_raw columns, contiguous for the GEMM
    be.linear_forward(s.delta, s.dt, d.dt_proj_w, m.wdtype, d.dt_proj_b, int(BN), R, Di, false);
    for (int b = 0; b < B; ++b) {
      const int64_t t0 = int64_t(b) * N;
      be.selective_scan_forward(s.y + t0 * Di, s.u + t0 * Di, s.delta + t0 * Di, d.A, s.xdbl + t0 * xs + R,
                                s.xdbl + t0 * xs + R + Ns, d.D, s.xz + t0 * 2 * Di + Di, N, Di, Ns, xs, 2 * Di, reverse,
                                /*accumulate=*/reverse, /*delta_softplus=*/true);
    }
  }
  be.linear_forward(out, s.y, m.out_proj_w, m.wdtype, nullptr, int(BN), Di, C, false);
}

}  // namespace dimba
