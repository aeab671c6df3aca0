// Nearest-neighbour upsampling of channels-last [B, H, W, C] by an integer scale: output pixel
// (i, j) copies input (i/s, j/s). Backend op upsample_nearest_forward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Out { float o[]; };
layout(std430, binding = 1) readonly buffer In { float x[]; };
layout(push_constant) uniform P { uint n, H, W, C, s, oo, io; } p;
void main() {
  uint Wo = p.W * p.s, Ho = p.H * p.s;
  for (uint e = gl_GlobalInvocationID.x; e < p.n; e += gl_NumWorkGroups.x * 256u) {
    uint c = e % p.C, j = (e / p.C) % Wo, i = (e / (p.C * Wo)) % Ho, b = e / (p.C * Wo * Ho);
    o[p.oo + e] = x[p.io + ((b * p.H + i / p.s) * p.W + j / p.s) * p.C + c];
  }
}
