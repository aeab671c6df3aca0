// The Mamba selective scan (MODEL.md section 2), with the output gate y * SiLU(z) fused.
// Channels go in groups of 16 with the group's [N, 16] state in registers/L1; the time loop
// is sequential by nature, the channel groups run in parallel. exp(delta*A) is the hot spot:
// fast_expf, compiled per ISA via target_clones. The state stays float32 in every weight
// precision (MODEL.md section 3), and decays into denormals that FTZ flushes.
// defines: selective_scan_forward
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
  bool reverse, accumulate;
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
      dlv[j] = dl[j];
      du[j] = dl[j] * uu[j];
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
    const float dl = a.delta[t * a.D + d], uu = a.u[t * a.D + d];
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
                            int64_t bc_stride, int64_t z_stride, bool reverse, bool accumulate) {
  DIMBA_CHECK(N >= 0 && N <= kMaxState);
  const ScanArgs a{y, u, delta, A, Bm, Cm, Dskip, z, T, D, N, bc_stride, z_stride, reverse, accumulate};
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
