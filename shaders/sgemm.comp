// C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C, row-major with leading dimensions,
// all f32 (BLAS sgemm semantics: beta = 0 never reads C). The tiling is linear.comp's:
// a tiled shared-memory GEMM: a 64x64 output tile per workgroup of 16x16 threads, each
// thread owning a 4x4 block; K walks in steps of 16 through shared tiles of x and w. Edges
// (sizes that are not tile multiples) load zeros and skip their stores.
// Backend op sgemm.
#version 450
layout(local_size_x = 16, local_size_y = 16) in;
layout(std430, binding = 0) buffer Cb { float y[]; };
layout(std430, binding = 1) readonly buffer Ab { float x[]; };
layout(std430, binding = 2) readonly buffer Bb { float w[]; };
layout(push_constant) uniform P { uint M, K, N, yo, xo, wo, lda, ldb, ldc, transA, transB; float alpha, beta; } p;

const uint BM = 64u, BN = 64u, BK = 16u;
shared float xs[BK][BM + 1u];
shared float ws[BK][BN + 1u];

// op(A)[m,k] and op(B)[k,n], read through the leading dimensions.
float load_a(uint m, uint k) { return x[p.xo + (p.transA != 0u ? k * p.lda + m : m * p.lda + k)]; }
float load_b(uint k, uint n) { return w[p.wo + (p.transB != 0u ? n * p.ldb + k : k * p.ldb + n)]; }

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
      xs[kk][rr] = (m < p.M && k < p.K) ? load_a(m, k) : 0.0;
      ws[kk][rr] = (n < p.N && k < p.K) ? load_b(k, n) : 0.0;
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
      uint yi = p.yo + m * p.ldc + n;
      y[yi] = p.beta == 0.0 ? p.alpha * acc[i][j] : p.alpha * acc[i][j] + p.beta * y[yi];
    }
  }
}
