// x[b,t,c] += gate[b*gs + c] * y[b,t,c]; without a gate x += y. Backend op gated_residual_forward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Y { float y[]; };
layout(std430, binding = 2) readonly buffer G { float gate[]; };
layout(push_constant) uniform P { uint n, TC, C, gs, xo, yo, go, has_gate; } p;
void main() {
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * 256u) {
    float g = p.has_gate != 0u ? gate[p.go + (i / p.TC) * p.gs + i % p.C] : 1.0;
    x[p.xo + i] += g * y[p.yo + i];
  }
}
