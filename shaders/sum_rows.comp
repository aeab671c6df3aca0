// out[b * os + c] += sum over t < T of a[(b*T + t)*C + c] (* m[same] when has_m): one thread
// per (b, c) summing its column in order, so the result never depends on scheduling (no
// atomics). The weight-gradient reductions of the backward ops: bias gradients (B = 1, T =
// rows), the adaLN shift/scale and gate gradients (per sample over its tokens).
// Backend ops linear/add_row/conv1d/patch_embed/modulate/gated_residual backward.
#version 450
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Out { float o[]; };
layout(std430, binding = 1) readonly buffer A { float a[]; };
layout(std430, binding = 2) readonly buffer M { float m[]; };
layout(push_constant) uniform P { uint B, T, C, os, has_m, oo, ao, mo; } p;
void main() {
  uint id = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * 64u + gl_GlobalInvocationID.x;
  if (id >= p.B * p.C) return;
  uint b = id / p.C, c = id % p.C;
  float s = 0.0;
  for (uint t = 0u; t < p.T; ++t) {
    uint i = (b * p.T + t) * p.C + c;
    s += p.has_m != 0u ? a[p.ao + i] * m[p.mo + i] : a[p.ao + i];
  }
  o[p.oo + b * p.os + c] += s;
}
