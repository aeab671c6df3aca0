// softplus(x) = max(x,0) + log(1 + exp(-|x|)), the overflow-free form; torch passes x through
// above 20, which differs by ~2e-9 (see backend/cpu/activations.cpp). Backend op softplus_forward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Out { float o[]; };
layout(std430, binding = 1) readonly buffer In { float x[]; };
layout(push_constant) uniform P { uint n, oo, io; } p;
void main() {
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * 256u) {
    float v = x[p.io + i];
    float e = exp(-abs(v));
    // log(1+e) loses e when e is tiny; its series e - e^2/2 is exact enough there.
    float l = e < 1e-4 ? e - 0.5 * e * e : log(1.0 + e);
    o[p.oo + i] = v > 20.0 ? v : max(v, 0.0) + l;
  }
}
