// A vectorisable exp for the two hot loops that are exp-bound: the selective scan
// (exp(delta*A) per state, MODEL.md section 2) and attention's softmax. Written in plain C++
// that GCC/Clang auto-vectorise (no table lookups, bit casts via memcpy), so each caller
// compiled for AVX-512/AVX2 (target_clones) gets a 16/8-wide version.
// Accuracy: relative error about 2e-7 over [-87, 88] (Cody-Waite range reduction by ln 2,
// degree-6 Taylor polynomial on |r| <= ln2/2); below -87 it returns a value under 2e-38,
// which FTZ makes 0 (core/fpenv.h).
// fast_log1pf: log(1+y) for y >= 0 (softplus), relative error about 1e-7, via an atanh series
// on the mantissa.
// defines: fast_expf, fast_log1pf, fast_softplusf
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace dimba::cpu {

static inline float fast_expf(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // Round x/ln2 to nearest with the 1.5*2^23 trick (no floor instruction needed on SSE2).
  const float shifter = 12582912.0f;
  float kf = x * 1.44269504088896341f + shifter;
  int32_t kbits;
  std::memcpy(&kbits, &kf, 4);
  int32_t k = kbits - 0x4B400000;  // bits of `shifter`
  kf -= shifter;
  float r = x - kf * 0.693145751953125f;  // ln2 high part (exact in float)
  r = r - kf * 1.428606765330187e-06f;    // ln2 low part
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t pbits;
  std::memcpy(&pbits, &p, 4);
  pbits += k * (1 << 23);
  float out;
  std::memcpy(&out, &pbits, 4);
  return out;
}

// log(1 + y), y >= 0 finite, without branches so loops over it vectorise. Small y needs no
// special case: the rounding of 1 + y is corrected explicitly (corr below), and m - 1 is
// exact, so the result stays accurate relative to y itself.
static inline float fast_log1pf(float y) {
  float v = 1.0f + y;
  int32_t bits;
  std::memcpy(&bits, &v, 4);
  // v = m * 2^e with m in [sqrt(1/2), sqrt(2)): shift the mantissa by 0x3f3504f3 (sqrt(1/2)).
  int32_t e = ((bits - 0x3f3504f3) >> 23);
  int32_t mbits = bits - e * (1 << 23);
  float m;
  std::memcpy(&m, &mbits, 4);
  // Correct for the rounding of 1 + y: log(1+y) = log(v) + (y - (v - 1)) / v.
  float corr = (y - (v - 1.0f)) / v;
  float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
  float p = 1.0f / 9.0f;
  p = p * s2 + 1.0f / 7.0f;
  p = p * s2 + 1.0f / 5.0f;
  p = p * s2 + 1.0f / 3.0f;
  p = p * s2 + 1.0f;
  return 2.0f * s * p + float(e) * 0.693147180559945309f + corr;
}

// softplus(x) = max(x, 0) + log1p(exp(-|x|)), as softplus_forward computes it (activations.cpp).
static inline float fast_softplusf(float x) {
  return (x > 0.0f ? x : 0.0f) + fast_log1pf(fast_expf(-std::fabs(x)));
}

}  // namespace dimba::cpu
