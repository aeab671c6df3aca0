// Backend op softplus_forward (the function: softplus.glsl).
#version 450
#include "softplus.glsl"
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Out { float o[]; };
layout(std430, binding = 1) readonly buffer In { float x[]; };
layout(push_constant) uniform P { uint n, oo, io; } p;
void main() {
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * 256u) o[p.oo + i] = softplus(x[p.io + i]);
}
