// out[i] += a[i] * f, f = bias + g[(i / TC) * gs + i % C] (a per-sample row of a [B, ., C]
// table read in place) or f = 1 without g. The elementwise halves of two backward ops:
// modulate (dinp += dout * (1 + scale_b): bias 1) and the gated residual (dy += dx * gate_b:
// bias 0). Backend ops modulate_backward, gated_residual_backward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Out { float o[]; };
layout(std430, binding = 1) readonly buffer A { float a[]; };
layout(std430, binding = 2) readonly buffer G { float g[]; };
layout(push_constant) uniform P { uint n, TC, C, gs, has_g; float bias; uint oo, ao, go; } p;
void main() {
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * 256u) {
    float f = p.has_g != 0u ? p.bias + g[p.go + (i / p.TC) * p.gs + i % p.C] : 1.0;
    o[p.oo + i] += a[p.ao + i] * f;
  }
}
