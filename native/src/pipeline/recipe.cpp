// Recipe checks and the final float -> 8-bit conversion.
// defines: validate_recipe, image_to_rgb8
#include "pipeline/recipe.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "sampling/sampler.h"

namespace dimba {
namespace {

[[noreturn]] void bad(const std::string& field, const std::string& msg) {
  throw EngineError(ErrorCode::InvalidArgument, "recipe." + field + ": " + msg);
}

}  // namespace

void validate_recipe(const Recipe& r, const RecipeLimits& lim) {
  if (r.prompt.size() > lim.max_prompt_bytes)
    bad("prompt", "longer than " + std::to_string(lim.max_prompt_bytes) + " bytes");
  if (r.negative_prompt.size() > lim.max_prompt_bytes)
    bad("negative_prompt", "longer than " + std::to_string(lim.max_prompt_bytes) + " bytes");
  const int m = lim.size_multiple;
  auto size_ok = [&](const char* field, int v) {
    if (v < m || v > lim.max_size || v % m != 0)
      bad(field, "must be a multiple of " + std::to_string(m) + " in [" + std::to_string(m) + ", " +
                     std::to_string(lim.max_size) + "], not " + std::to_string(v));
  };
  size_ok("width", r.width);
  size_ok("height", r.height);
  if (r.steps < 1 || r.steps > lim.max_steps)
    bad("steps", "must lie in [1, " + std::to_string(lim.max_steps) + "], not " + std::to_string(r.steps));
  if (!std::isfinite(r.guidance) || r.guidance < 0.0 || r.guidance > 100.0)
    bad("guidance", "must be a finite number in [0, 100], not " + std::to_string(r.guidance));
  try {
    parse_sampler_kind(r.sampler);
  } catch (const EngineError& e) {
    bad("sampler", e.what());
  }
  if (r.count < 1 || r.count > lim.max_count)
    bad("count", "must lie in [1, " + std::to_string(lim.max_count) + "], not " + std::to_string(r.count));
  // seed + k must not wrap: image k's seed is part of its recipe.
  if (r.seed > std::numeric_limits<uint64_t>::max() - uint64_t(r.count - 1))
    bad("seed", "seed + count - 1 exceeds 2^64 - 1");
  if (r.preview_every < 0 || r.preview_every > lim.max_steps)
    bad("preview_every", "must lie in [0, " + std::to_string(lim.max_steps) + "], not " +
                             std::to_string(r.preview_every));
}

void image_to_rgb8(uint8_t* rgb, const float* image, int H, int W) {
  const size_t plane = size_t(H) * size_t(W);
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) {
      float v = image[size_t(c) * plane + i];
      v = std::isnan(v) ? 0.0f : std::min(1.0f, std::max(-1.0f, v));
      float u = (v + 1.0f) / 2.0f * 255.0f + 0.5f;
      u = std::min(255.0f, std::max(0.0f, u));
      rgb[i * 3 + size_t(c)] = uint8_t(u);
    }
  }
}

}  // namespace dimba
