// Causal depthwise conv over time, channels-last, one thread per (t, d):
// out[t,d] = bias[d] + sum_k w[d,k] * inp[src(t,k), d], src = t+k-(K-1) (reverse: t+(K-1)-k),
// zero outside [0, T). Backend op conv1d_causal_depthwise_forward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer O { float o[]; };
layout(std430, binding = 1) readonly buffer I { float x[]; };
layout(std430, binding = 2) readonly buffer W { float w[]; };
layout(std430, binding = 3) readonly buffer Bi { float bias[]; };
layout(push_constant) uniform P { uint T, D, K, in_stride, oo, io, wo, bo, has_bias, reverse; } p;
void main() {
  uint n = p.T * p.D;
  for (uint i = gl_GlobalInvocationID.x; i < n; i += gl_NumWorkGroups.x * 256u) {
    int t = int(i / p.D);
    uint d = i % p.D;
    float acc = p.has_bias != 0u ? bias[p.bo + d] : 0.0;
    for (uint kk = 0u; kk < p.K; ++kk) {
      int src = p.reverse != 0u ? t + int(p.K - 1u) - int(kk) : t + int(kk) - int(p.K - 1u);
      if (src < 0 || src >= int(p.T)) continue;
      acc += w[p.wo + d * p.K + kk] * x[p.io + uint(src) * p.in_stride + d];
    }
    o[p.oo + i] = acc;
  }
}
