// LayerNorm / RMSNorm backward for the input, one workgroup per row (gradients accumulate):
//   xhat = (x - mean) * rstd (rms: mean 0), dxhat = dout * weight,
//   layernorm: dinp += rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
//   rmsnorm:   dinp += rstd * (dxhat - xhat * mean(dxhat * xhat))
// flags: 1 weight, 2 layernorm (subtract mean(dxhat); mean read). Weight and bias gradients:
// norm_backward_weights.comp. Backend ops layernorm_backward, rmsnorm_backward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer DIn { float dinp[]; };
layout(std430, binding = 1) readonly buffer DOut { float dout[]; };
layout(std430, binding = 2) readonly buffer In { float x[]; };
layout(std430, binding = 3) readonly buffer W { float w[]; };
layout(std430, binding = 4) readonly buffer Mean { float mean[]; };
layout(std430, binding = 5) readonly buffer Rstd { float rstd[]; };
layout(push_constant) uniform P { uint rows, C, dio, doo, io, wo, mo, ro, flags; } p;
#define REDUCE_SIZE 256u
#include "block_reduce.glsl"
void main() {
  uint r = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (r >= p.rows) return;  // uniform over the group
  uint t = gl_LocalInvocationID.x, base = r * p.C;
  bool ln = (p.flags & 2u) != 0u, has_w = (p.flags & 1u) != 0u;
  float m = ln ? mean[p.mo + r] : 0.0, rs = rstd[p.ro + r];
  float s1 = 0.0, s2 = 0.0;
  for (uint i = t; i < p.C; i += 256u) {
    float xh = (x[p.io + base + i] - m) * rs;
    float dxh = dout[p.doo + base + i] * (has_w ? w[p.wo + i] : 1.0);
    s1 += dxh;
    s2 += dxh * xh;
  }
  float m1 = ln ? block_sum(s1) / float(p.C) : 0.0;
  float m2 = block_sum(s2) / float(p.C);
  for (uint i = t; i < p.C; i += 256u) {
    float xh = (x[p.io + base + i] - m) * rs;
    float dxh = dout[p.doo + base + i] * (has_w ? w[p.wo + i] : 1.0);
    dinp[p.dio + base + i] += rs * (dxh - m1 - xh * m2);
  }
}
