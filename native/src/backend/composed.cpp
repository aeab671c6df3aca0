// Ops composed of a backend's other ops, for the backends without a kernel of their own.
//
// Dimba's attention block (composed.h): each stage's scratch is dead once the stage has added
// its output to x, so the next stage may reuse it.
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
// defines: composed_dimba_block_forward, composed_mamba_block_forward, composed_layernorm_modulate
#include "backend/backend.h"

namespace dimba {

void composed_layernorm_modulate(const Backend& be, float* out, const float* x, const float* shift, const float* scale,
                                 int64_t mod_stride, const float* ones, float* w1, int B, int N, int C) {
  for (int b = 0; b < B; ++b) {
    const int64_t rows = int64_t(b) * N * C;
    be.add_forward(w1 + int64_t(b) * C, scale + b * mod_stride, ones, C);
    be.layernorm_forward(out + rows, nullptr, nullptr, x + rows, w1 + int64_t(b) * C, shift + b * mod_stride, N, C,
                         1e-6f);
  }
}

void composed_dimba_block_forward(const Backend& be, float* x, const DimbaBlockScratch& s, const float* ctx,
                                  const int* ctx_lens, const float* t0, const DimbaBlock& w, int B, int N, int L) {
  const int C = w.C, H = w.H;
  const int64_t BN = int64_t(B) * N;
  for (int b = 0; b < B; ++b) be.add_forward(s.mod + int64_t(b) * 6 * C, t0 + int64_t(b) * 6 * C, w.table, 6 * C);
  const float *shift_msa = s.mod, *scale_msa = s.mod + C, *gate_msa = s.mod + 2 * C;
  const float *shift_mlp = s.mod + 3 * C, *scale_mlp = s.mod + 4 * C, *gate_mlp = s.mod + 5 * C;
  // Self-attention: its output overwrites h (dead once qkv exists), the projection qkv (dead
  // once the attention output exists).
  composed_layernorm_modulate(be, s.h, x, shift_msa, scale_msa, 6 * C, w.ones, s.w1, B, N, C);
  be.self_attention_forward(s.qkv, s.qkv, s.h, s.h, w.qkv_w, w.qkv_b, w.proj_w, w.proj_b, w.wdtype, B, N, C, H);
  be.gated_residual_forward(x, s.qkv, gate_msa, B, N, C, 6 * C);
  // Cross-attention to the sample's own text tokens (MODEL.md 2.6), projected onto x.
  be.cross_attention_forward(x, s.q, s.kv, s.a, ctx, ctx_lens, w.q_w, w.q_b, w.kv_w, w.kv_b, w.cross_proj_w,
                             w.cross_proj_b, w.wdtype, B, N, L, C, H);
  // MLP
  composed_layernorm_modulate(be, s.h, x, shift_mlp, scale_mlp, 6 * C, w.ones, s.w1, B, N, C);
  be.mlp_forward(s.h, s.hid, s.h, w.fc1_w, w.fc1_b, w.fc2_w, w.fc2_b, w.wdtype, int(BN), C, w.Hm, C);
  be.gated_residual_forward(x, s.h, gate_mlp, B, N, C, 6 * C);
}

void composed_mamba_block_forward(const Backend& be, float* out, const MambaBlockScratch& s,
                                  const float* residual, const MambaBlock& m, int B, int N) {
  const int C = m.C, Di = m.Di, Ns = m.Ns, R = m.R, xs = R + 2 * Ns;  // x_dbl row: [dt_raw | B | C]
  const int64_t BN = int64_t(B) * N;
  be.rmsnorm_forward(s.h, nullptr, residual, m.norm_w, BN, C, m.norm_eps);
  be.linear_forward(s.xz, s.h, m.in_proj_w, m.wdtype, nullptr, int(BN), C, 2 * Di, false);
  for (int dir = 0; dir < 2; ++dir) {
    const MambaDirection& d = m.dir[dir];
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
