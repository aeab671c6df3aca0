// The col2im half of patch_embed's backward: dimg[b, c, i*p+a, j*p+bb] += dcols[b, i*w+j,
// (c*p + a)*p + bb] (stride = kernel, so every image element belongs to one column element:
// one thread each, no atomics). Backend op patch_embed_backward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Img { float dimg[]; };
layout(std430, binding = 1) readonly buffer Cols { float dcols[]; };
layout(push_constant) uniform P { uint n, Cin, H, W, p, h, w, io, co; } p;
void main() {
  uint K = p.Cin * p.p * p.p;
  for (uint e = gl_GlobalInvocationID.x; e < p.n; e += gl_NumWorkGroups.x * 256u) {
    uint row = e / K, k = e % K;
    uint j = row % p.w, i = (row / p.w) % p.h, b = row / (p.w * p.h);
    uint bb = k % p.p, a = (k / p.p) % p.p, c = k / (p.p * p.p);
    dimg[p.io + ((b * p.Cin + c) * p.H + i * p.p + a) * p.W + j * p.p + bb] += dcols[p.co + e];
  }
}
