// Backward of the Mamba selective scan, pass 1 of 2: one thread per channel d (32 channels a
// workgroup) of the chunk [d0, d0 + Dc), as the CPU: the float32 states are recomputed forward
// in time into scratch S [T][N][Dc], then the reverse-time recurrence runs with ds[n] in
// registers. Per-channel gradients (du, ddelta, dz, dDskip, dA) belong to the thread and
// accumulate directly; dBm[t,n] and dCm[t,n] sum over all channels, so each workgroup sums its
// 32 channels' terms in a fixed order in shared memory and writes one partial per (group, t)
// to scratch; selective_scan_backward_reduce.comp adds the partials in group order (two
// passes, no atomics: the same result on every run). flags: 1 du, 2 ddelta, 4 dA, 8 dDskip,
// 16 dz. Backend op selective_scan_backward.
#version 450
layout(local_size_x = 32) in;
layout(std430, binding = 0) buffer DU { float du[]; };
layout(std430, binding = 1) buffer DDl { float ddelta[]; };
layout(std430, binding = 2) buffer DA { float dA[]; };
layout(std430, binding = 3) buffer DDs { float dDskip[]; };
layout(std430, binding = 4) buffer DZ { float dz[]; };
layout(std430, binding = 5) readonly buffer DY { float dy[]; };
layout(std430, binding = 6) readonly buffer U { float u[]; };
layout(std430, binding = 7) readonly buffer Dl { float delta[]; };
layout(std430, binding = 8) readonly buffer Ab { float A[]; };
layout(std430, binding = 9) readonly buffer Bb { float Bm[]; };
layout(std430, binding = 10) readonly buffer Cb { float Cm[]; };
layout(std430, binding = 11) readonly buffer Ds { float Dskip[]; };
layout(std430, binding = 12) readonly buffer Z { float z[]; };
layout(std430, binding = 13) buffer Scratch { float sc[]; };
layout(push_constant) uniform P {
  uint T, D, N, bc_stride, z_stride, dz_stride, reverse, d0, Dc, flags, po;
  uint duo, ddlo, dao, dDo, dzo, dyo, uo, dlo, ao, bo, co, dso, zo;
} p;
shared float part[2u * 64u * 32u];  // [2N][32]: this step's dB (n < N) and dC terms per channel
void main() {
  uint lid = gl_LocalInvocationID.x, g = gl_WorkGroupID.x;
  uint dd = g * 32u + lid, d = p.d0 + dd;
  bool act = dd < p.Dc && d < p.D;  // idle threads still meet every barrier
  uint N = p.N, T = p.T;
  float a[64], ds[64], dAacc[64];
  float dsk = act ? Dskip[p.dso + d] : 0.0;
  for (uint n = 0u; n < N; ++n) {
    a[n] = act ? A[p.ao + d * N + n] : 0.0;
    ds[n] = 0.0;
    dAacc[n] = 0.0;
  }
  if (act) {  // forward: the states of every step
    float s[64];
    for (uint n = 0u; n < N; ++n) s[n] = 0.0;
    for (uint step = 0u; step < T; ++step) {
      uint t = p.reverse != 0u ? T - 1u - step : step;
      float dl = delta[p.dlo + t * p.D + d], uu = u[p.uo + t * p.D + d];
      uint bt = p.bo + t * p.bc_stride;
      for (uint n = 0u; n < N; ++n) {
        s[n] = exp(dl * a[n]) * s[n] + dl * uu * Bm[bt + n];
        sc[(step * N + n) * p.Dc + dd] = s[n];
      }
    }
  }
  float dD = 0.0;
  for (int step = int(T) - 1; step >= 0; --step) {
    uint t = p.reverse != 0u ? T - 1u - uint(step) : uint(step);
    if (act) {
      float dl = delta[p.dlo + t * p.D + d], uu = u[p.uo + t * p.D + d], zz = z[p.zo + t * p.z_stride + d];
      uint bt = p.bo + t * p.bc_stride, ct = p.co + t * p.bc_stride;
      uint st = uint(step) * N * p.Dc + dd;
      float q = dsk * uu;
      for (uint n = 0u; n < N; ++n) q += sc[st + n * p.Dc] * Cm[ct + n];
      float sg = 1.0 / (1.0 + exp(-zz));
      float dyv = dy[p.dyo + t * p.D + d];
      if ((p.flags & 16u) != 0u) dz[p.dzo + t * p.dz_stride + d] += dyv * q * sg * (1.0 + zz * (1.0 - sg));
      float dq = dyv * zz * sg;
      dD += dq * uu;
      float dut = dq * dsk, ddl = 0.0;
      for (uint n = 0u; n < N; ++n) {
        float sv = sc[st + n * p.Dc];
        float bn = Bm[bt + n], cn = Cm[ct + n];
        float gn = ds[n] + dq * cn;
        float ea = exp(dl * a[n]);
        float prev = step > 0 ? sc[st - N * p.Dc + n * p.Dc] : 0.0;
        ddl += gn * (prev * ea * a[n] + bn * uu);
        dAacc[n] += gn * prev * ea * dl;
        part[n * 32u + lid] = gn * dl * uu;     // dB[t, n]
        part[(N + n) * 32u + lid] = dq * sv;    // dC[t, n]
        dut += gn * dl * bn;
        ds[n] = gn * ea;
      }
      if ((p.flags & 1u) != 0u) du[p.duo + t * p.D + d] += dut;
      if ((p.flags & 2u) != 0u) ddelta[p.ddlo + t * p.D + d] += ddl;
    } else {
      for (uint n = 0u; n < 2u * N; ++n) part[n * 32u + lid] = 0.0;
    }
    barrier();
    for (uint j = lid; j < 2u * N; j += 32u) {
      float acc = 0.0;
      for (uint l = 0u; l < 32u; ++l) acc += part[j * 32u + l];
      sc[p.po + (g * T + t) * 2u * N + j] = acc;
    }
    barrier();
  }
  if (!act) return;
  if ((p.flags & 8u) != 0u) dDskip[p.dDo + d] += dD;
  if ((p.flags & 4u) != 0u)
    for (uint n = 0u; n < N; ++n) dA[p.dao + d * N + n] += dAacc[n];
}
