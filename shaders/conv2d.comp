// conv2d over channels-last images as an implicit GEMM: out[B*Ho*Wo, Cout] (+)= cols @ w^T
// (+ bias), where cols[(b,oy,ox), (ky,kx,ci)] = inp[b, oy*stride+ky-pad_top, ox*stride+kx-pad_left, ci]
// (zero outside the image) is gathered while loading the shared tiles, never materialised,
// and w [Cout, k, k, Cin] is exactly a [N, K] Linear weight in f32, f16 or bf16. The tiling
// is linear.comp's: a tiled shared-memory GEMM: a 64x64 output tile per workgroup of 16x16 threads, each
// thread owning a 4x4 block; K walks in steps of 16 through shared tiles of x and w. Edges
// (sizes that are not tile multiples) load zeros and skip their stores.
// The weight buffer is bound as uint words and 16-bit weights are unpacked by hand, so no
// 16-bit storage feature is required. Backend op conv2d_forward.
#version 450
layout(local_size_x = 16, local_size_y = 16) in;
layout(std430, binding = 0) buffer Y { float y[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer W { uint w[]; };
layout(std430, binding = 3) readonly buffer Bi { float bias[]; };
// wdtype: 0 f32, 1 f16, 2 bf16. wo counts weight elements (of wdtype).
layout(push_constant) uniform P {
  uint M, K, N, yo, xo, wo, bo, wdtype, has_bias, accumulate;
  uint H, W, Cin, ksz, stride, Ho, Wo;
  int pad_top, pad_left;
} p;

float load_x(uint m, uint k) {
  uint hw = p.Ho * p.Wo, b = m / hw, r = m % hw, oy = r / p.Wo, ox = r % p.Wo;
  uint ci = k % p.Cin, kx = (k / p.Cin) % p.ksz, ky = k / (p.Cin * p.ksz);
  int iy = int(oy * p.stride + ky) - p.pad_top, ix = int(ox * p.stride + kx) - p.pad_left;
  if (iy < 0 || ix < 0 || iy >= int(p.H) || ix >= int(p.W)) return 0.0;
  return x[p.xo + ((b * p.H + uint(iy)) * p.W + uint(ix)) * p.Cin + ci];
}

const uint BM = 64u, BN = 64u, BK = 16u;
shared float xs[BK][BM + 1u];
shared float ws[BK][BN + 1u];

float load_w(uint e) {
  if (p.wdtype == 0u) return uintBitsToFloat(w[e]);
  uint h = (w[e >> 1] >> ((e & 1u) * 16u)) & 0xffffu;
  return p.wdtype == 1u ? unpackHalf2x16(h).x : uintBitsToFloat(h << 16);
}

void main() {
  uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y, tid = ty * 16u + tx;
  uint n0 = gl_WorkGroupID.x * BN, m0 = gl_WorkGroupID.y * BM;
  float acc[4][4];
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0;
  for (uint k0 = 0u; k0 < p.K; k0 += BK) {
    // 64x16 elements of each tile, 4 per thread; consecutive threads read consecutive k.
    for (uint l = 0u; l < 4u; ++l) {
      uint idx = tid + l * 256u, kk = idx % BK, rr = idx / BK;
      uint m = m0 + rr, n = n0 + rr, k = k0 + kk;
      xs[kk][rr] = (m < p.M && k < p.K) ? load_x(m, k) : 0.0;
      ws[kk][rr] = (n < p.N && k < p.K) ? load_w(p.wo + n * p.K + k) : 0.0;
    }
    barrier();
    for (uint kk = 0u; kk < BK; ++kk) {
      float a[4], b[4];
      for (uint i = 0u; i < 4u; ++i) a[i] = xs[kk][ty + 16u * i];
      for (uint j = 0u; j < 4u; ++j) b[j] = ws[kk][tx + 16u * j];
      for (uint i = 0u; i < 4u; ++i)
        for (uint j = 0u; j < 4u; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
    }
    barrier();
  }
  for (uint i = 0u; i < 4u; ++i) {
    uint m = m0 + ty + 16u * i;
    if (m >= p.M) continue;
    for (uint j = 0u; j < 4u; ++j) {
      uint n = n0 + tx + 16u * j;
      if (n >= p.N) continue;
      float v = acc[i][j];
      if (p.has_bias != 0u) v += bias[p.bo + n];
      uint yi = p.yo + m * p.N + n;
      y[yi] = p.accumulate != 0u ? y[yi] + v : v;
    }
  }
}
