// Backward of the causal depthwise conv (gradients accumulate), gathers only (no atomics):
// mode 0, one thread per (s, d): dinp[s*in_stride + d] += sum_k w[d,k] * dout[t,d] over the
//   outputs t that read source s through tap k (t = s + (K-1) - k, reversed t = s - (K-1) + k);
// mode 1, one thread per channel d, over t in order: dweight[d,k] += sum_t dout[t,d] *
//   inp[src(t,k), d], dbias[d] += sum_t dout[t,d] (K <= 16; flags 1 dweight, 2 dbias).
// Backend op conv1d_causal_depthwise_backward.
#version 450
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer DIn { float dinp[]; };
layout(std430, binding = 1) buffer DW { float dw[]; };
layout(std430, binding = 2) buffer DB { float db[]; };
layout(std430, binding = 3) readonly buffer DOut { float dout[]; };
layout(std430, binding = 4) readonly buffer In { float x[]; };
layout(std430, binding = 5) readonly buffer W { float w[]; };
layout(push_constant) uniform P { uint T, D, K, in_stride, reverse, mode, flags, dio, dwo, dbo, doo, io, wo; } p;
void main() {
  uint id = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 64u + gl_GlobalInvocationID.x;
  int T = int(p.T), K = int(p.K);
  if (p.mode == 0u) {
    if (id >= p.T * p.D) return;
    uint d = id % p.D;
    int s = int(id / p.D);
    float acc = 0.0;
    for (int k = 0; k < K; ++k) {
      int t = p.reverse != 0u ? s - (K - 1) + k : s + (K - 1) - k;
      if (t < 0 || t >= T) continue;
      acc += w[p.wo + d * p.K + uint(k)] * dout[p.doo + uint(t) * p.D + d];
    }
    dinp[p.dio + uint(s) * p.in_stride + d] += acc;
    return;
  }
  if (id >= p.D) return;
  uint d = id;
  float sw[16], sb = 0.0;
  for (int k = 0; k < K; ++k) sw[k] = 0.0;
  for (int t = 0; t < T; ++t) {
    float g = dout[p.doo + uint(t) * p.D + d];
    sb += g;
    for (int k = 0; k < K; ++k) {
      int src = p.reverse != 0u ? t + (K - 1) - k : t + k - (K - 1);
      if (src < 0 || src >= T) continue;
      sw[k] += g * x[p.io + uint(src) * p.in_stride + d];
    }
  }
  if ((p.flags & 1u) != 0u)
    for (int k = 0; k < K; ++k) dw[p.dwo + d * p.K + uint(k)] += sw[k];
  if ((p.flags & 2u) != 0u) db[p.dbo + d] += sb;
}
