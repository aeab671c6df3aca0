// out[r * os + c] = inp[r * is + c] over rows x C (a copy, or a column slice of wider rows).
// Backend op copy_rows_forward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Out { float o[]; };
layout(std430, binding = 1) readonly buffer In { float x[]; };
layout(push_constant) uniform P { uint n, C, os, is_, oo, io; } p;
void main() {
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * 256u) {
    const uint r = i / p.C, c = i - r * p.C;
    o[p.oo + r * p.os + c] = x[p.io + r * p.is_ + c];
  }
}
