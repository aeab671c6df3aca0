// The pointwise functions CUDA kernels share (elementwise.cu, scan.cu, the fused ops), in full
// precision expf/log1pf (no __expf), so the op test holds them to 1e-5 of the CPU. One
// definition each, so a fused op computes exactly what the op it replaces computes.
// Beside them, the conversions of a value as stored (f32, or 16 bits where a fused op hands
// them between its steps) to and from the f32 arithmetic.
// defines: sigmoid, gelu_tanh, silu, softplus, to_f32, store (device functions)
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace dimba::cu {

__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }
// 0.5 x (1 + tanh(a)) written as x / (1 + exp(-2a)).
__device__ __forceinline__ float gelu_tanh(float x) {
  const float k2 = 2.0f * 0.7978845608028654f;
  return x / (1.0f + expf(-k2 * (x + 0.044715f * x * x * x)));
}
// max(x, 0) + log1p(exp(-|x|)): no overflow; torch's pass-through above 20 differs by ~2e-9.
__device__ __forceinline__ float softplus(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }
__device__ __forceinline__ void store(__half* p, float v) { *p = __float2half_rn(v); }

}  // namespace dimba::cu
