// The norms' affine gradients, one thread per column summing over rows in order (no atomics):
//   dweight[c] += sum_r dout[r,c] * xhat[r,c], dbias[c] += sum_r dout[r,c],
// xhat = (x - mean[r]) * rstd[r] (mean 0 for RMSNorm). flags: 1 dweight, 2 dbias, 4 mean read.
// Backend ops layernorm_backward, rmsnorm_backward.
#version 450
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer DW { float dw[]; };
layout(std430, binding = 1) buffer DB { float db[]; };
layout(std430, binding = 2) readonly buffer DOut { float dout[]; };
layout(std430, binding = 3) readonly buffer In { float x[]; };
layout(std430, binding = 4) readonly buffer Mean { float mean[]; };
layout(std430, binding = 5) readonly buffer Rstd { float rstd[]; };
layout(push_constant) uniform P { uint rows, C, dwo, dbo, doo, io, mo, ro, flags; } p;
void main() {
  uint c = gl_GlobalInvocationID.x;
  if (c >= p.C) return;
  float sw = 0.0, sb = 0.0;
  for (uint r = 0u; r < p.rows; ++r) {
    float g = dout[p.doo + r * p.C + c];
    float m = (p.flags & 4u) != 0u ? mean[p.mo + r] : 0.0;
    sw += g * (x[p.io + r * p.C + c] - m) * rstd[p.ro + r];
    sb += g;
  }
  if ((p.flags & 1u) != 0u) dw[p.dwo + c] += sw;
  if ((p.flags & 2u) != 0u) db[p.dbo + c] += sb;
}
