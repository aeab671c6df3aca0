// RMSNorm, one workgroup per row: out = x * rsqrt(mean(x^2) + eps) * w.
// Backend op rmsnorm_forward. flags: 1 weight, 8 write rstd.
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Out { float o[]; };
layout(std430, binding = 1) buffer Rstd { float rstd[]; };
layout(std430, binding = 2) readonly buffer In { float x[]; };
layout(std430, binding = 3) readonly buffer W { float w[]; };
layout(push_constant) uniform P { uint rows, C; float eps; uint oo, ro, io, wo, flags; } p;
#define REDUCE_SIZE 256u
#include "block_reduce.glsl"
void main() {
  uint r = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (r >= p.rows) return;
  uint t = gl_LocalInvocationID.x, base = r * p.C;
  float s = 0.0;
  for (uint i = t; i < p.C; i += 256u) { float v = x[p.io + base + i]; s += v * v; }
  float rs = inversesqrt(block_sum(s) / float(p.C) + p.eps);
  for (uint i = t; i < p.C; i += 256u) {
    float y = x[p.io + base + i] * rs;
    if ((p.flags & 1u) != 0u) y *= w[p.wo + i];
    o[p.oo + base + i] = y;
  }
  if (t == 0u && (p.flags & 8u) != 0u) rstd[p.ro + r] = rs;
}
