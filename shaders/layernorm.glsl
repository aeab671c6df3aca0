// LayerNorm, one workgroup per row: two passes (mean, then centred variance) with tree
// reductions in shared memory, as the CPU's two-pass form (no E[x^2]-E[x]^2 cancellation).
// Backend op layernorm_forward. flags: 1 weight, 2 bias, 4 write mean, 8 write rstd.
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Out { float o[]; };
layout(std430, binding = 1) buffer Mean { float mean[]; };
layout(std430, binding = 2) buffer Rstd { float rstd[]; };
layout(std430, binding = 3) readonly buffer In { float x[]; };
layout(std430, binding = 4) readonly buffer W { float w[]; };
layout(std430, binding = 5) readonly buffer Bi { float bias[]; };
layout(push_constant) uniform P { uint rows, C; float eps; uint oo, mo, ro, io, wo, bo, flags; } p;
#define REDUCE_SIZE 256u
#include "block_reduce.glsl"
void main() {
  uint r = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (r >= p.rows) return;  // uniform over the group
  uint t = gl_LocalInvocationID.x, base = r * p.C;
  float s = 0.0;
  for (uint i = t; i < p.C; i += 256u) s += x[p.io + base + i];
  float m = block_sum(s) / float(p.C);
  float v = 0.0;
  for (uint i = t; i < p.C; i += 256u) { float d = x[p.io + base + i] - m; v += d * d; }
  float rs = inversesqrt(block_sum(v) / float(p.C) + p.eps);
  for (uint i = t; i < p.C; i += 256u) {
    float y = (x[p.io + base + i] - m) * rs;
    if ((p.flags & 1u) != 0u) y *= w[p.wo + i];
    if ((p.flags & 2u) != 0u) y += bias[p.bo + i];
    o[p.oo + base + i] = y;
  }
  if (t == 0u) {
    if ((p.flags & 4u) != 0u) mean[p.mo + r] = m;
    if ((p.flags & 8u) != 0u) rstd[p.ro + r] = rs;
  }
}
