// The Mamba selective scan (MODEL.md section 2), with the output gate y * SiLU(z) fused.
// Channels go in groups of 16 with the group's [N, 16] state in registers/L1; the time loop
// is sequential by nature, the channel groups run in parallel. exp(delta*A) is the hot spot:
// fast_expf, compiled per ISA via target_clones. The state stays float32 in every weight
// precision (MODEL.md section 3), and decays into denormals that FTZ flushes.
// defines: selective_scan_forward, selective_scan_backward
#include <cmath>
#include <vector>

#include "backend/cpu/fast_math.h"
#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/threadpool.h"

namespace dimba::cpu {
namespace {

constexpr int kGroup = 16;
constexpr int kMaxState = 64;

struct ScanArgs {
  float* y;
  const float *u, *delta, *A, *Bm, *Cm, *Dskip, *z;
  int T, D, N;
  int64_t bc_stride, z_stride;
  bool reverse, accumulate, delta_softplus;
};

// Channels [d0, d0 + 16).
__attribute__((target_clones("avx512f", "avx2", "default")))
void scan_group16(const ScanArgs& a, int d0) {
  const int N = a.N;
  float At[kMaxState][kGroup];
  float s[kMaxState][kGroup];
  for (int n = 0; n < N; ++n)
    for (int j = 0; j < kGroup; ++j) {
      At[n][j] = a.A[int64_t(d0 + j) * N + n];
      s[n][j] = 0.0f;
    }
  float dsk[kGroup];
  for (int j = 0; j < kGroup; ++j) dsk[j] = a.Dskip[d0 + j];
  for (int step = 0; step < a.T; ++step) {
    const int64_t t = a.reverse ? a.T - 1 - step : step;
    const float* dl = a.delta + t * a.D + d0;
    const float* uu = a.u + t * a.D + d0;
    const float* Bt = a.Bm + t * a.bc_stride;
    const float* Ct = a.Cm + t * a.bc_stride;
    float dlv[kGroup], du[kGroup], acc[kGroup];
    for (int j = 0; j < kGroup; ++j) {
      dlv[j] = a.delta_softplus ? fast_softplusf(dl[j]) : dl[j];
      du[j] = dlv[j] * uu[j];
      acc[j] = 0.0f;
    }
    for (int n = 0; n < N; ++n) {
      const float bn = Bt[n], cn = Ct[n];
      for (int j = 0; j < kGroup; ++j) {
        float sv = fast_expf(dlv[j] * At[n][j]) * s[n][j] + du[j] * bn;
        s[n][j] = sv;
        acc[j] += sv * cn;
      }
    }
    const float* zz = a.z + t * a.z_stride + d0;
    float* yy = a.y + t * a.D + d0;
    for (int j = 0; j < kGroup; ++j) {
      float g = zz[j] / (1.0f + fast_expf(-zz[j]));
      float v = (acc[j] + dsk[j] * uu[j]) * g;
      yy[j] = a.accumulate ? yy[j] + v : v;
    }
  }
}

// One channel (the tail when D is not a multiple of 16), plain and exact-exp.
void scan_channel(const ScanArgs& a, int d) {
  const int N = a.N;
  float s[kMaxState] = {0};
  const float* A = a.A + int64_t(d) * N;
  for (int step = 0; step < a.T; ++step) {
    const int64_t t = a.reverse ? a.T - 1 - step : step;
    const float dl = a.delta_softplus ? fast_softplusf(a.delta[t * a.D + d]) : a.delta[t * a.D + d];
    const float uu = a.u[t * a.D + d];
    const float* Bt = a.Bm + t * a.bc_stride;
    const float* Ct = a.Cm + t * a.bc_stride;
    float acc = 0.0f;
    for (int n = 0; n < N; ++n) {
      s[n] = std::exp(dl * A[n]) * s[n] + dl * uu * Bt[n];
      acc += s[n] * Ct[n];
    }
    const float zz = a.z[t * a.z_stride + d];
    float v = (acc + a.Dskip[d] * uu) * (zz / (1.0f + std::exp(-zz)));
    float& y = a.y[t * a.D + d];
    y = a.accumulate ? y + v : v;
  }
}

}  // namespace

void selective_scan_forward(float* y, const float* u, const float* delta, const float* A, const float* Bm,
                            const float* Cm, const float* Dskip, const float* z, int T, int D, int N,
                            int64_t bc_stride, int64_t z_stride, bool reverse, bool accumulate, bool delta_softplus) {
  DIMBA_CHECK(N >= 0 && N <= kMaxState);
  const ScanArgs a{y, u, delta, A, Bm, Cm, Dskip, z, T, D, N, bc_stride, z_stride, reverse, accumulate,
                   delta_softplus};
  const int groups = D / kGroup;
  const int tail = D - groups * kGroup;
  ThreadPool::global().parallel_for(groups + tail, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) {
      if (g < groups)
        scan_group16(a, int(g) * kGroup);
      else
        scan_channel(a, groups * kGroup + int(g - groups));
    }
  });
}

}  // namespace dimba::cpu

#include <mutex>

namespace dimba::cpu {

// Backward of selective_scan_forward, same argument order plus dbc_stride/dz_stride for the
// rows of dBm/dCm and dz (so they land in packed [dt|dB|dC] and [dx|dz] gradient buffers in
// place); accumulate=true forward calls need nothing special (dy is the same for both). All
// gradients accumulate; dA is the gradient for A = -exp(A_log) (the caller applies the chain
// rule to A_log). The float32 states s_t are recomputed in forward time order (MODEL.md 3:
// state float32) for 16 channels at a time, then the reverse-time recurrence runs 16 wide
// with fast_expf like the forward (a tail channel runs alone, exact exp, ds in double):
//   q_t = sum_n s_t C_t + D u_t, y_t = q_t silu(z_t): dz += dy q silu'(z), dq = dy silu(z);
//   dC_t += dq s_t, dD += dq u_t, du_t += dq D, ds_t += dq C_t;
//   s_t = a_t s_{t-1} + delta_t B_t u_t, a_t = exp(delta_t A):
//     ddelta_t += sum_n ds (s_{t-1} a A + B u), dA += ds s_{t-1} a delta, dB_t += ds delta u,
//     du_t += sum_n ds delta B, then ds_{t-1} = ds a.
// Channel groups run in parallel. dB/dC are shared by all channels: each group adds its 16
// lanes into a per-range [T][dB (N) | dC (N)][16] float buffer with plain vector adds, and
// the lanes are summed once per range (in double) instead of with two horizontal sums per
// (step, state) in every group.
namespace {

struct ScanBackArgs {
  float *du, *ddelta, *dA, *dDskip, *dz;
  const float *dy, *u, *delta, *A, *Bm, *Cm, *Dskip, *z;
  int T, D, N;
  int64_t bc_stride, z_stride, dz_stride;
  bool reverse;
};

// Per-range scratch: S holds the recomputed states, one zero row then T rows of [N][16]
// (row step+1 is s after `step`, so row step is the previous state, zero at the start); E
// holds exp(delta A) of each step, [T][N][16]; dBC the lane partial sums above.
struct ScanBackScratch {
  std::vector<float> S, E, dBC;
  ScanBackScratch(int T, int N)
      : S(size_t(T + 1) * N * kGroup, 0.0f), E(size_t(T) * N * kGroup), dBC(size_t(T) * 2 * N * kGroup, 0.0f) {}
};

// Channels [d0, d0 + 16), the hot path: the states and decays of all T steps are recomputed
// with the forward's fast_expf, then the reverse-time loop runs 16 channels wide.
__attribute__((target_clones("avx512f", "avx2", "default")))
void scan_back_group16(const ScanBackArgs& a, int d0, ScanBackScratch& w) {
  const int N = a.N, T = a.T;
  const int64_t row = int64_t(N) * kGroup;
  float At[kMaxState][kGroup], ds[kMaxState][kGroup], dAacc[kMaxState][kGroup];
  for (int n = 0; n < N; ++n)
    for (int j = 0; j < kGroup; ++j) {
      At[n][j] = a.A[int64_t(d0 + j) * N + n];
      ds[n][j] = 0.0f;
      dAacc[n][j] = 0.0f;
    }
  for (int step = 0; step < T; ++step) {
    const int64_t t = a.reverse ? T - 1 - step : step;
    const float* dl = a.delta + t * a.D + d0;
    const float* uu = a.u + t * a.D + d0;
    const float* Bt = a.Bm + t * a.bc_stride;
    const float* Sp = w.S.data() + step * row;
    float* St = w.S.data() + (step + 1) * row;
    float* Et = w.E.data() + step * row;
    // This group's z and dy are one cache line per step that only the reverse loop reads;
    // fetched there, each was a miss the loop waited on.
    __builtin_prefetch(a.z + t * a.z_stride + d0);
    __builtin_prefetch(a.dy + t * a.D + d0);
    for (int n = 0; n < N; ++n)
      for (int j = 0; j < kGroup; ++j) {
        const float ea = fast_expf(dl[j] * At[n][j]);
        Et[n * kGroup + j] = ea;
        St[n * kGroup + j] = ea * Sp[n * kGroup + j] + dl[j] * uu[j] * Bt[n];
      }
  }
  float dD[kGroup], dsk[kGroup];
  for (int j = 0; j < kGroup; ++j) dD[j] = 0.0f, dsk[j] = a.Dskip[d0 + j];
  for (int step = T - 1; step >= 0; --step) {
    const int64_t t = a.reverse ? T - 1 - step : step;
    const float* dl = a.delta + t * a.D + d0;
    const float* uu = a.u + t * a.D + d0;
    const float* zz = a.z + t * a.z_stride + d0;
    const float* dyy = a.dy + t * a.D + d0;
    const float* Bt = a.Bm + t * a.bc_stride;
    const float* Ct = a.Cm + t * a.bc_stride;
    const float* Sp = w.S.data() + step * row;
    const float* St = Sp + row;
    const float* Et = w.E.data() + step * row;
    float* dBl = w.dBC.data() + t * 2 * row;
    float* dCl = dBl + row;
    float q[kGroup], dq[kGroup], dut[kGroup], ddl[kGroup], dlv[kGroup], uv[kGroup];
    for (int j = 0; j < kGroup; ++j) dlv[j] = dl[j], uv[j] = uu[j], q[j] = dsk[j] * uu[j];
    for (int n = 0; n < N; ++n)
      for (int j = 0; j < kGroup; ++j) q[j] += St[n * kGroup + j] * Ct[n];
    float dzv[kGroup];  // stored after the loop: a conditional store inside keeps it scalar
    for (int j = 0; j < kGroup; ++j) {
      const float sg = 1.0f / (1.0f + fast_expf(-zz[j]));
      dzv[j] = dyy[j] * q[j] * sg * (1.0f + zz[j] * (1.0f - sg));
      dq[j] = dyy[j] * zz[j] * sg;
      dD[j] += dq[j] * uu[j];
      dut[j] = dq[j] * dsk[j];
      ddl[j] = 0.0f;
    }
    if (a.dz)
      for (int j = 0; j < kGroup; ++j) a.dz[t * a.dz_stride + d0 + j] += dzv[j];
    // The lane sums are computed into locals first and then added to the scratch: a store
    // into it between the loads of St/Sp/Et keeps GCC from vectorising the 16 lanes.
    for (int n = 0; n < N; ++n) {
      const float bn = Bt[n], cn = Ct[n];
      const float* Sn = St + n * kGroup;
      const float* Spn = Sp + n * kGroup;
      const float* En = Et + n * kGroup;
      float sc[kGroup], sb[kGroup];
      for (int j = 0; j < kGroup; ++j) {
        sc[j] = dq[j] * Sn[j];
        const float g = ds[n][j] + dq[j] * cn;
        ddl[j] += g * (Spn[j] * En[j] * At[n][j] + bn * uv[j]);
        dAacc[n][j] += g * Spn[j] * En[j] * dlv[j];
        sb[j] = g * dlv[j] * uv[j];
        dut[j] += g * dlv[j] * bn;
        ds[n][j] = g * En[j];
      }
      for (int j = 0; j < kGroup; ++j) dCl[n * kGroup + j] += sc[j];
      for (int j = 0; j < kGroup; ++j) dBl[n * kGroup + j] += sb[j];
    }
    if (a.du)
      for (int j = 0; j < kGroup; ++j) a.du[t * a.D + d0 + j] += dut[j];
    if (a.ddelta)
      for (int j = 0; j < kGroup; ++j) a.ddelta[t * a.D + d0 + j] += ddl[j];
  }
  for (int j = 0; j < kGroup; ++j) {
    if (a.dDskip) a.dDskip[d0 + j] += dD[j];
    if (a.dA)
      for (int n = 0; n < N; ++n) a.dA[int64_t(d0 + j) * N + n] += dAacc[n][j];
  }
}

// One channel (the tail when D is not a multiple of 16), plain, exact exp, ds in double;
// its dB/dC go to lane 0 of the scratch's partial sums.
void scan_back_channel(const ScanBackArgs& a, int64_t d, ScanBackScratch& w) {
  const int N = a.N, T = a.T;
  const float* Ad = a.A + d * N;
  float* S = w.S.data() + N * kGroup;  // [T][N] after the zero row, which the groups rely on
  std::vector<float> s(static_cast<size_t>(N), 0.0f);
  for (int step = 0; step < T; ++step) {
    const int64_t t = a.reverse ? T - 1 - step : step;
    const float dl = a.delta[t * a.D + d], uu = a.u[t * a.D + d];
    const float* Bt = a.Bm + t * a.bc_stride;
    for (int n = 0; n < N; ++n) {
      s[size_t(n)] = std::exp(dl * Ad[n]) * s[size_t(n)] + dl * uu * Bt[n];
      S[size_t(step) * N + n] = s[size_t(n)];
    }
  }
  std::vector<double> ds(static_cast<size_t>(N), 0.0);
  double dD = 0.0;
  for (int step = T - 1; step >= 0; --step) {
    const int64_t t = a.reverse ? T - 1 - step : step;
    const double dl = a.delta[t * a.D + d], uu = a.u[t * a.D + d], zz = a.z[t * a.z_stride + d];
    const float* Bt = a.Bm + t * a.bc_stride;
    const float* Ct = a.Cm + t * a.bc_stride;
    const float* st = S + size_t(step) * N;
    const float* sp = step > 0 ? S + size_t(step - 1) * N : nullptr;
    double q = a.Dskip[d] * uu;
    for (int n = 0; n < N; ++n) q += double(st[n]) * Ct[n];
    const double sg = 1.0 / (1.0 + std::exp(-zz));
    const double dyv = a.dy[t * a.D + d];
    if (a.dz) a.dz[t * a.dz_stride + d] += float(dyv * q * sg * (1.0 + zz * (1.0 - sg)));
    const double dq = dyv * zz * sg;
    dD += dq * uu;
    double dut = dq * a.Dskip[d], ddl = 0.0;
    float* dBl = w.dBC.data() + t * 2 * N * kGroup;
    float* dCl = dBl + N * kGroup;
    for (int n = 0; n < N; ++n) {
      dCl[n * kGroup] += float(dq * st[n]);
      const double g = ds[size_t(n)] + dq * Ct[n];
      const double ea = std::exp(float(dl) * Ad[n]);
      const double prev = sp ? sp[n] : 0.0;
      ddl += g * (prev * ea * Ad[n] + Bt[n] * uu);
      if (a.dA) a.dA[d * N + n] += float(g * prev * ea * dl);
      dBl[n * kGroup] += float(g * dl * uu);
      dut += g * dl * Bt[n];
      ds[size_t(n)] = g * ea;
    }
    if (a.du) a.du[t * a.D + d] += float(dut);
    if (a.ddelta) a.ddelta[t * a.D + d] += float(ddl);
  }
  if (a.dDskip) a.dDskip[d] += float(dD);
}

}  // namespace

void selective_scan_backward(float* du, float* ddelta, float* dA, float* dBm, float* dCm, float* dDskip, float* dz,
                             const float* dy, const float* u, const float* delta, const float* A, const float* Bm,
                             const float* Cm, const float* Dskip, const float* z, int T, int D, int N,
                             int64_t bc_stride, int64_t z_stride, int64_t dbc_stride, int64_t dz_stride,
                             bool reverse) {
  DIMBA_CHECK(N >= 0 && N <= kMaxState);
  const ScanBackArgs a{du, ddelta, dA, dDskip, dz, dy, u, delta, A, Bm, Cm, Dskip, z, T, D, N,
                       bc_stride, z_stride, dz_stride, reverse};
  const int groups = D / kGroup;
  const int tail = D - groups * kGroup;
  std::mutex mu;
  ThreadPool::global().parallel_for(groups + tail, [&](int64_t g0, int64_t g1) {
    ScanBackScratch w(T, N);
    for (int64_t g = g0; g < g1; ++g) {
      if (g < groups)
        scan_back_group16(a, int(g) * kGroup, w);
      else
        scan_back_channel(a, groups * kGroup + (g - groups), w);
    }
    std::lock_guard<std::mutex> lock(mu);
    for (int t = 0; t < T; ++t)
      for (int n = 0; n < N; ++n) {
        const float* dBl = w.dBC.data() + (size_t(t) * 2 * N + n) * kGroup;
        const float* dCl = dBl + size_t(N) * kGroup;
        double sb = 0.0, sc = 0.0;
        for (int j = 0; j < kGroup; ++j) sb += dBl[j], sc += dCl[j];
        if (dBm) dBm[t * dbc_stride + n] += float(sb);
        if (dCm) dCm[t * dbc_stride + n] += float(sc);
      }
  });
}

}  // namespace dimba::cpu
