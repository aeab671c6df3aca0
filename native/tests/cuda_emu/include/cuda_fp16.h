// half precision for the CPU emulator, on the engine's own conversions (core/dtype.h: IEEE
// binary16, round to nearest even).
// defines: __half, __float2half_rn, __half2float
#pragma once
#include "core/dtype.h"
#include "cuda_runtime.h"

struct __half {
  unsigned short __x;
  __half() = default;
  __half(float f) : __x(::dimba::f32_to_f16(f)) {}
  operator float() const { return ::dimba::f16_to_f32(__x); }
};

inline __half __float2half_rn(float f) { return __half(f); }
inline float __half2float(__half h) { return float(h); }
