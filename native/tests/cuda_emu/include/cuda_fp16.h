// half precision for the CPU emulator, on the compiler's _Float16 (IEEE binary16,
// round-to-nearest-even conversions).
// defines: __half, __float2half_rn, __half2float
#pragma once
#include <cstring>

#include "cuda_runtime.h"

struct __half {
  unsigned short __x;
  __half() = default;
  __half(float f) {
    const _Float16 h = static_cast<_Float16>(f);
    std::memcpy(&__x, &h, 2);
  }
  operator float() const {
    _Float16 h;
    std::memcpy(&h, &__x, 2);
    return static_cast<float>(h);
  }
};

inline __half __float2half_rn(float f) { return __half(f); }
inline float __half2float(__half h) { return float(h); }
