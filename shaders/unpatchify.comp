// tokens [B, h*w, p*p*Cout] (each token [p, p, Cout]) -> img [B, Cout, h*p, w*p], one thread per
// image element. Backend op unpatchify_forward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Img { float img[]; };
layout(std430, binding = 1) readonly buffer Tok { float tok[]; };
layout(push_constant) uniform P { uint n, Cout, h, w, p, oo, to; } p;
void main() {
  uint H = p.h * p.p, W = p.w * p.p;
  for (uint e = gl_GlobalInvocationID.x; e < p.n; e += gl_NumWorkGroups.x * 256u) {
    uint x = e % W, y = (e / W) % H, c = (e / (W * H)) % p.Cout, b = e / (W * H * p.Cout);
    uint i = y / p.p, a = y % p.p, j = x / p.p, bb = x % p.p;
    img[p.oo + e] = tok[p.to + ((b * p.h + i) * p.w + j) * (p.p * p.p * p.Cout) + (a * p.p + bb) * p.Cout + c];
  }
}
