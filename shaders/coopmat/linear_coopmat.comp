// linear_forward with f16 weights on cooperative matrices (GL_KHR_cooperative_matrix):
// y[M,N] (+)= x[M,K] @ w[N,K]^T (+ bias[N]), f16 inputs (x is rounded to f16 as it is staged),
// f32 accumulation and result. One subgroup per workgroup (local size = the device's subgroup
// size, a specialisation constant) computes one 16x16 output tile, walking K in steps of 16
// through shared tiles; edges load zeros and skip their stores, as linear.comp does.
// Chosen by backend/vulkan/coopmat_select.h only when the device reports 16x16x16
// f16 x f16 -> f32 at subgroup scope. Not in the shaders/*.comp glob: glslc without the GLSL
// extension (shaderc 2023.2 / glslang 11 in Debian 12) cannot compile it, so native/CMakeLists.txt
// tries it at configure time and builds it only where it compiles. UNTESTED ON HARDWARE.
#version 450
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) buffer Y { float y[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer W { uint w[]; };  // f16 pairs, unpacked by hand
layout(std430, binding = 3) readonly buffer Bi { float bias[]; };
layout(push_constant) uniform P { uint M, K, N, yo, xo, wo, bo, has_bias, accumulate; } p;

const uint T = 16u;
shared float16_t xs[T * T];  // A = x tile, [m][k] row-major
shared float16_t ws[T * T];  // w tile [n][k]: B = w^T (k x n) read column-major
shared float cs[T * T];      // the finished tile, for the bias/accumulate epilogue

void main() {
  uint n0 = gl_WorkGroupID.x * T, m0 = gl_WorkGroupID.y * T, lane = gl_LocalInvocationID.x;
  coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator> acc =
      coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>(0.0);
  for (uint k0 = 0u; k0 < p.K; k0 += T) {
    for (uint i = lane; i < T * T; i += gl_WorkGroupSize.x) {
      uint r = i / T, k = k0 + i % T, m = m0 + r, n = n0 + r;
      xs[i] = float16_t((m < p.M && k < p.K) ? x[p.xo + m * p.K + k] : 0.0);
      float wv = 0.0;
      if (n < p.N && k < p.K) {
        uint e = p.wo + n * p.K + k;
        wv = unpackHalf2x16((w[e >> 1] >> ((e & 1u) * 16u)) & 0xffffu).x;
      }
      ws[i] = float16_t(wv);
    }
    barrier();
    coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseA> a;
    coopmat<float16_t, gl_ScopeSubgroup, 16, 16, gl_MatrixUseB> b;
    coopMatLoad(a, xs, 0, T, gl_CooperativeMatrixLayoutRowMajor);
    coopMatLoad(b, ws, 0, T, gl_CooperativeMatrixLayoutColumnMajor);
    acc = coopMatMulAdd(a, b, acc);
    barrier();  // the tiles are rewritten by the next step
  }
  coopMatStore(acc, cs, 0, T, gl_CooperativeMatrixLayoutRowMajor);
  barrier();
  for (uint i = lane; i < T * T; i += gl_WorkGroupSize.x) {
    uint m = m0 + i / T, n = n0 + i % T;
    if (m >= p.M || n >= p.N) continue;
    float v = cs[i];
    if (p.has_bias != 0u) v += bias[p.bo + n];
    uint yi = p.yo + m * p.N + n;
    y[yi] = p.accumulate != 0u ? y[yi] + v : v;
  }
}
