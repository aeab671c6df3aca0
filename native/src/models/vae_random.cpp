// A random AutoencoderKL checkpoint for any config: the SDXL-shaped VAE that benchmarks and
// tiling measurements run without downloading the real weights (335 MB). Deterministic: the
// engine's counter-based RNG with a seed; stored as `dtype` (bf16 halves the memory a
// benchmark's peak includes). Scales keep activations O(1) through the depth:
// conv/linear weights N(0, 1/fan_in), biases N(0, 0.02^2), norm scales 1 + N(0, 0.1^2) and
// shifts N(0, 0.1^2), so no path is zero (as in the golden files).
// defines: vae_random_checkpoint
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"

#include "core/rng.h"
#include "core/tensor.h"
#include "models/vae.h"

namespace dimba {

Checkpoint vae_random_checkpoint(const VaeConfig& cfg, uint64_t seed, DType dtype) {
  cfg.validate();
  DIMBA_CHECK(dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16);
  Checkpoint ck;
  uint64_t offset = 0;
  for (const auto& [name, shape] : vae_expected_tensors(cfg)) {
    const int64_t n = shape_numel(shape);
    std::vector<float> buf(static_cast<size_t>(n));
    float* v = buf.data();
    fill_normal(v, size_t(n), seed, offset);
    offset += uint64_t(n);
    const bool is_bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    const bool is_norm = name.find("norm") != std::string::npos;
    double scale, shift = 0;
    if (shape.size() >= 2) {
      int64_t fan_in = 1;
      for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
      scale = 1.0 / std::sqrt(double(fan_in));
    } else if (is_norm) {
      scale = 0.1;
      shift = is_bias ? 0.0 : 1.0;
    } else {
      scale = 0.02;
    }
    for (int64_t i = 0; i < n; ++i) v[i] = float(shift + scale * v[i]);
    auto mem = aligned_alloc_shared(size_t(n) * dtype_size(dtype));
    convert_from_f32(mem.get(), dtype, v, size_t(n));
    TensorEntry e;
    e.dtype = dtype;
    e.shape = shape;
    e.data = static_cast<const uint8_t*>(mem.get());
    e.nbytes = size_t(n) * dtype_size(dtype);
    ck.tensors[name] = e;
    ck.storage.push_back(mem);
  }
  return ck;
}

}  // namespace dimba
