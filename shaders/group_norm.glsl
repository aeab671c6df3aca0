// GroupNorm over channels-last [B, HW, C] activations, one workgroup per (group g, sample b):
// two passes (mean, then variance around it) over the group's HW x C/G values. Each thread's
// partial sums are Kahan-compensated, because a VAE group holds millions of values and the
// CPU reference sums in double. Backend op group_norm_forward. flags: 1 weight, 2 bias,
// 4 write mean, 8 write rstd (mean/rstd [B, G]).
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Out { float o[]; };
layout(std430, binding = 1) buffer Mean { float mean[]; };
layout(std430, binding = 2) buffer Rstd { float rstd[]; };
layout(std430, binding = 3) readonly buffer In { float x[]; };
layout(std430, binding = 4) readonly buffer W { float w[]; };
layout(std430, binding = 5) readonly buffer Bi { float bias[]; };
layout(push_constant) uniform P { uint HW, C, G; float eps; uint oo, mo, ro, io, wo, bo, flags; } p;
#define REDUCE_SIZE 256u
#include "block_reduce.glsl"
void main() {
  uint g = gl_WorkGroupID.x, b = gl_WorkGroupID.y, t = gl_LocalInvocationID.x;
  uint cg = p.C / p.G, n = p.HW * cg, base = p.io + b * p.HW * p.C + g * cg;
  float s = 0.0, comp = 0.0;
  for (uint e = t; e < n; e += 256u) {
    float y = x[base + (e / cg) * p.C + e % cg] - comp;
    float tt = s + y;
    comp = (tt - s) - y;
    s = tt;
  }
  float m = block_sum(s) / float(n);
  s = 0.0; comp = 0.0;
  for (uint e = t; e < n; e += 256u) {
    float d = x[base + (e / cg) * p.C + e % cg] - m;
    float y = d * d - comp;
    float tt = s + y;
    comp = (tt - s) - y;
    s = tt;
  }
  float rs = inversesqrt(block_sum(s) / float(n) + p.eps);
  uint obase = p.oo + b * p.HW * p.C + g * cg;
  for (uint e = t; e < n; e += 256u) {
    uint c = g * cg + e % cg, off = (e / cg) * p.C + e % cg;
    float y = (x[base + off] - m) * rs;
    if ((p.flags & 1u) != 0u) y *= w[p.wo + c];
    if ((p.flags & 2u) != 0u) y += bias[p.bo + c];
    o[obase + off] = y;
  }
  if (t == 0u) {
    if ((p.flags & 4u) != 0u) mean[p.mo + b * p.G + g] = m;
    if ((p.flags & 8u) != 0u) rstd[p.ro + b * p.G + g] = rs;
  }
}
