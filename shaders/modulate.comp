// adaLN: out[b,t,c] = inp[b,t,c] * (1 + scale[b*ms + c]) + shift[b*ms + c] (in-place ok).
// Backend op modulate_forward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Out { float o[]; };
layout(std430, binding = 1) readonly buffer In { float x[]; };
layout(std430, binding = 2) readonly buffer Sh { float shift[]; };
layout(std430, binding = 3) readonly buffer Sc { float scale[]; };
layout(push_constant) uniform P { uint n, TC, C, ms, oo, io, sho, sco; } p;
void main() {
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * 256u) {
    uint m = (i / p.TC) * p.ms + i % p.C;
    o[p.oo + i] = x[p.io + i] * (1.0 + scale[p.sco + m]) + shift[p.sho + m];
  }
}
