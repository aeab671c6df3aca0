// bfloat16 for the CPU emulator: storage and the conversion functions the engine calls, on the
// engine's own conversions (core/dtype.h: round to nearest even, NaN kept).
// defines: __nv_bfloat16, __nv_bfloat162, __float2bfloat16_rn, __bfloat162float,
//          __floats2bfloat162_rn, __ushort_as_bfloat16
#pragma once
#include "core/dtype.h"
#include "cuda_runtime.h"

struct __nv_bfloat16 {
  unsigned short __x;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : __x(::dimba::f32_to_bf16(f)) {}
  operator float() const { return ::dimba::bf16_to_f32(__x); }
};
struct alignas(4) __nv_bfloat162 {
  __nv_bfloat16 x, y;
};

inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 h) { return float(h); }
inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) { return {__nv_bfloat16(lo), __nv_bfloat16(hi)}; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short u) {
  __nv_bfloat16 h;
  h.__x = u;
  return h;
}
