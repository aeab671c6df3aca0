// Counter-based random numbers: the noise for (seed, index) is a pure function of the two,
// so every backend (and every thread split) produces bit-identical samples.
//
// The recipe, exactly (CUDA/Vulkan implementations must follow it line by line):
//   Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
//     key     = (k0, k1) = (seed & 0xffffffff, seed >> 32)
//     counter = (c0, c1, c2, c3) = (j & 0xffffffff, j >> 32, 0, 0) with j = index / 2
//     10 rounds; each round, with M0 = 0xD2511F53, M1 = 0xCD9E8D57:
//       (hi0, lo0) = mulhilo32(M0, c0); (hi1, lo1) = mulhilo32(M1, c2)
//       (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
//       then, except after the last round, k0 += 0x9E3779B9, k1 += 0xBB67AE85
//     giving r = (c0, c1, c2, c3).
//   Box-Muller in float64 on the first two words:
//     u1 = (r0 + 1) / 2^32   in (0, 1]
//     u2 = r1 / 2^32         in [0, 1)
//     rad = sqrt(-2 ln u1), theta = 2 pi u2 (pi = 3.14159265358979323846)
//     normal(seed, index) = float(rad * cos(theta)) if index is even, float(rad * sin(theta)) if odd.
//   r2 and r3 are unused. A backend without float64 generates noise on the host.
// defines: philox4x32_10, normal_at, fill_normal
#pragma once
#include <cstddef>
#include <cstdint>

namespace dimba {

// One Philox4x32-10 block: out = philox(counter, key).
void philox4x32_10(uint32_t out[4], const uint32_t counter[4], const uint32_t key[2]);

// The standard normal sample number `index` of stream `seed` (see the recipe above).
float normal_at(uint64_t seed, uint64_t index);

// out[i] = normal_at(seed, offset + i) for i < n.
void fill_normal(float* out, size_t n, uint64_t seed, uint64_t offset = 0);

}  // namespace dimba
