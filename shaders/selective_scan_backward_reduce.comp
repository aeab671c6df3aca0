// Backward of the Mamba selective scan, pass 2 of 2: dBm[t,n] / dCm[t,n] += the sum, in group
// order, of pass 1's per-workgroup partials (scratch [G][T][2N]); one thread per (t, j < 2N).
// flags: 1 dBm, 2 dCm. Backend op selective_scan_backward.
#version 450
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer DB { float dB[]; };
layout(std430, binding = 1) buffer DC { float dC[]; };
layout(std430, binding = 2) readonly buffer Scratch { float sc[]; };
layout(push_constant) uniform P { uint T, N, G, dbc_stride, flags, bo, co, po; } p;
void main() {
  uint id = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 64u + gl_GlobalInvocationID.x;
  uint w = 2u * p.N;
  if (id >= p.T * w) return;
  uint t = id / w, j = id % w;
  float acc = 0.0;
  for (uint g = 0u; g < p.G; ++g) acc += sc[p.po + (g * p.T + t) * w + j];
  if (j < p.N) {
    if ((p.flags & 1u) != 0u) dB[p.bo + t * p.dbc_stride + j] += acc;
  } else if ((p.flags & 2u) != 0u) {
    dC[p.co + t * p.dbc_stride + (j - p.N)] += acc;
  }
}
