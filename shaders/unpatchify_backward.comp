// Backward of unpatchify (a permutation): dtokens += dimg read back in token order, one thread
// per image element, each writing its own token element. Backend op unpatchify_backward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Tok { float dtok[]; };
layout(std430, binding = 1) readonly buffer Img { float dimg[]; };
layout(push_constant) uniform P { uint n, Cout, h, w, p, to, io; } p;
void main() {
  uint H = p.h * p.p, W = p.w * p.p;
  for (uint e = gl_GlobalInvocationID.x; e < p.n; e += gl_NumWorkGroups.x * 256u) {
    uint x = e % W, y = (e / W) % H, c = (e / (W * H)) % p.Cout, b = e / (W * H * p.Cout);
    uint i = y / p.p, a = y % p.p, j = x / p.p, bb = x % p.p;
    dtok[p.to + ((b * p.h + i) * p.w + j) * (p.p * p.p * p.Cout) + (a * p.p + bb) * p.Cout + c] += dimg[p.io + e];
  }
}
