// Philox4x32-10 + Box-Muller (the recipe is in rng.h).
#include "core/rng.h"

#include <cmath>

namespace dimba {

void philox4x32_10(uint32_t out[4], const uint32_t counter[4], const uint32_t key[2]) {
  uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(0xD2511F53u) * c0;
    uint64_t p1 = uint64_t(0xCD9E8D57u) * c2;
    uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    if (round < 9) {
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

namespace {
void normal_pair(uint64_t seed, uint64_t j, double* a, double* b) {
  const uint32_t key[2] = {uint32_t(seed), uint32_t(seed >> 32)};
  const uint32_t ctr[4] = {uint32_t(j), uint32_t(j >> 32), 0, 0};
  uint32_t r[4];
  philox4x32_10(r, ctr, key);
  const double inv32 = 1.0 / 4294967296.0;
  double u1 = (double(r[0]) + 1.0) * inv32;
  double u2 = double(r[1]) * inv32;
  double rad = std::sqrt(-2.0 * std::log(u1));
  double theta = 2.0 * 3.14159265358979323846 * u2;
  *a = rad * std::cos(theta);
  *b = rad * std::sin(theta);
}
}  // namespace

float normal_at(uint64_t seed, uint64_t index) {
  double a, b;
  normal_pair(seed, index / 2, &a, &b);
  return float((index & 1) ? b : a);
}

void fill_normal(float* out, size_t n, uint64_t seed, uint64_t offset) {
  size_t i = 0;
  while (i < n) {
    uint64_t idx = offset + i;
    double a, b;
    normal_pair(seed, idx / 2, &a, &b);
    if ((idx & 1) == 0) {
      out[i++] = float(a);
      if (i < n) out[i++] = float(b);
    } else {
      out[i++] = float(b);
    }
  }
}

}  // namespace dimba
