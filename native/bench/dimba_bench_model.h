// What the Dimba benches share: deterministic random Dimba weights (a checkpoint in memory, so
// a bench needs no real checkpoint) and the analytic FLOP count of one forward.
// defines: Rand, random_checkpoint, Flops, count_flops
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/checkpoint.h"
#include "models/dimba.h"

namespace dimba::bench {

// xorshift64*: fast uniform numbers for 860M weights (Box-Muller normals would take longer
// than the forward itself).
struct Rand {
  uint64_t s;
  float uniform() {  // [-1, 1)
    s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
    return float(int64_t((s * 0x2545F4914F6CDD1Dull) >> 11) - (int64_t(1) << 52)) / float(int64_t(1) << 52);
  }
};

// A checkpoint of random weights in memory: Linear weights ~ U(-1,1)/sqrt(fan_in) so
// activations stay O(1) through 28 blocks; Mamba parameters like Mamba's own init
// (A_log = log(1..Ns), dt bias = softplus^-1 of dt in [1e-3, 1e-1], D = 1), so the scan
// decays the way a trained model's does (denormals included).
inline Checkpoint random_checkpoint(const DimbaConfig& cfg, DType dtype) {
  Checkpoint ck;
  Rand r{0x9E3779B97F4A7C15ull};
  for (const auto& [name, shape] : dimba_expected_tensors(cfg)) {
    size_t n = size_t(shape_numel(shape));
    std::vector<float> v(n);
    auto ends = [&](const char* s) { return name.size() >= std::strlen(s) && name.compare(name.size() - std::strlen(s), std::string::npos, s) == 0; };
    if (ends("A_log") || ends("A_b_log")) {
      int64_t Ns = shape[1];
      for (size_t i = 0; i < n; ++i) v[i] = std::log(float(i % size_t(Ns) + 1));
    } else if (ends(".D") || ends(".D_b") || ends("norm.weight")) {
      std::fill(v.begin(), v.end(), 1.0f);
    } else if (ends("dt_proj.bias") || ends("dt_proj_b.bias")) {
      for (size_t i = 0; i < n; ++i) {
        float dt = std::exp(std::log(1e-3f) + (r.uniform() * 0.5f + 0.5f) * (std::log(1e-1f) - std::log(1e-3f)));
        v[i] = dt + std::log(-std::expm1(-dt));  // softplus^-1(dt)
      }
    } else {
      float fan_in = shape.size() >= 2 ? float(n / size_t(shape[0])) : 1.0f;
      float scale = shape.size() >= 2 ? 1.0f / std::sqrt(fan_in) : 0.02f;
      for (auto& x : v) x = r.uniform() * scale;
    }
    auto mem = aligned_alloc_shared(n * dtype_size(dtype));
    convert_from_f32(mem.get(), dtype, v.data(), n);
    ck.storage.push_back(mem);
    ck.tensors[name] = TensorEntry{dtype, shape, static_cast<const uint8_t*>(mem.get()), n * dtype_size(dtype)};
  }
  return ck;
}

struct Flops {
  double linear = 0, attention = 0, scan = 0;
  double total() const { return linear + attention + scan; }
};

inline Flops count_flops(const DimbaConfig& c, int B, int N, int L, const std::vector<int>& lens) {
  const double C = c.hidden_size, Hm = c.mlp_hidden(), Di = c.d_inner(), R = c.dt_rank_resolved(), Ns = c.d_state;
  const double p = c.patch_size, BN = double(B) * N;
  double sum_len = 0;
  for (int l : lens) sum_len += l;
  Flops f;
  f.linear += 2 * BN * (c.in_channels * p * p) * C;                        // patch embedding
  f.linear += 2 * B * (256 * C + C * C + C * 6 * C);                        // t_embedder, t_block
  f.linear += 2 * double(B) * L * (c.caption_channels * C + C * C);        // y_embedder
  const double block_lin = 2 * BN * (3 * C * C + C * C + C * C + C * C + 2 * C * Hm) + 2 * double(B) * L * 2 * C * C;
  f.linear += c.depth * block_lin;
  f.attention += c.depth * (4 * double(B) * N * N * C + 4 * double(N) * sum_len * C);
  const double mamba_lin = 2 * BN * (C * 2 * Di + 2 * (Di * (R + 2 * Ns) + R * Di) + Di * C);
  f.linear += c.mamba_depth() * mamba_lin;
  // Scan: per state element exp's argument mul, decay mul, input fma, output fma (6 flops,
  // the exp itself not counted); the gate and skip; the 4-tap conv. Both directions.
  f.scan += c.mamba_depth() * 2 * (BN * Di * (6 * Ns + 4) + 2 * c.d_conv * BN * Di);
  f.linear += 2 * BN * C * (p * p * c.out_channels);                      // final layer
  return f;
}

}  // namespace dimba::bench
