// The im2col half of patch_embed: cols[b, i*w+j, (c*p + a)*p + bb] = img[b, c, i*p+a, j*p+bb],
// the [C, Cin, p, p] kernel order; the Linear half is linear.comp. Backend op patch_embed_forward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Cols { float cols[]; };
layout(std430, binding = 1) readonly buffer Img { float img[]; };
layout(push_constant) uniform P { uint n, Cin, H, W, p, h, w, io; } p;
void main() {
  uint K = p.Cin * p.p * p.p;
  for (uint e = gl_GlobalInvocationID.x; e < p.n; e += gl_NumWorkGroups.x * 256u) {
    uint row = e / K, k = e % K;
    uint j = row % p.w, i = (row / p.w) % p.h, b = row / (p.w * p.h);
    uint bb = k % p.p, a = (k / p.p) % p.p, c = k / (p.p * p.p);
    cols[e] = img[p.io + ((b * p.Cin + c) * p.H + i * p.p + a) * p.W + j * p.p + bb];
  }
}
