// bfloat16 for the CPU emulator: storage, round-to-nearest-even conversion from f32 (NaN kept
// a quiet NaN), exact widening, and the conversion functions the engine calls.
// defines: __nv_bfloat16, __nv_bfloat162, __float2bfloat16_rn, __bfloat162float,
//          __floats2bfloat162_rn, __ushort_as_bfloat16
#pragma once
#include <cstdint>
#include <cstring>

#include "cuda_runtime.h"

namespace emu {
inline unsigned short f32_to_bf16_rn(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<unsigned short>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<unsigned short>(u >> 16);
}
inline float bf16_to_f32(unsigned short h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
}  // namespace emu

struct __nv_bfloat16 {
  unsigned short __x;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : __x(::emu::f32_to_bf16_rn(f)) {}
  operator float() const { return ::emu::bf16_to_f32(__x); }
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
