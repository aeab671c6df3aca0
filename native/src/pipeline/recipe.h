// What one generation asks for (a Recipe) and its checks: everything that decides the pixels,
// so that the same recipe on the same model and backend gives the same image bit for bit.
// defines: Recipe, RecipeLimits, validate_recipe, GeneratedImage, image_to_rgb8
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dimba {

struct Recipe {
  std::string prompt;
  std::string negative_prompt;  // "": the null caption (the encoding of the empty string)
  uint64_t seed = 0;            // image k of `count` uses seed + k
  int steps = 20;
  double guidance = 4.5;
  std::string sampler = "dpm++2m";  // sampling/sampler.h: dpm++2m, ddim, euler
  int width = 512;              // pixels, multiples of RecipeLimits::size_multiple
  int height = 512;
  int count = 1;
  int preview_every = 0;        // a preview every k sampler steps; 0: none
};

// What the loaded model accepts (Pipeline::limits()).
struct RecipeLimits {
  int size_multiple = 16;   // VAE downscale * Dimba patch size
  int max_size = 4096;      // pixels per side
  int max_count = 64;
  int max_steps = 1000;     // the schedule's N
  size_t max_prompt_bytes = 1u << 20;
};

// Throws EngineError(InvalidArgument) naming the first bad field ("recipe.width: ...").
void validate_recipe(const Recipe& r, const RecipeLimits& limits);

struct GeneratedImage {
  int width = 0, height = 0;
  uint64_t seed = 0;
  std::vector<uint8_t> rgb;  // (height, width, 3) row-major, interleaved
};

// rgb (H, W, 3) from a decoded image [3, H, W] in about [-1, 1]: clamp to [-1, 1], then
// torchvision's save_image rounding (x + 1) / 2 * 255 + 0.5, truncated, as the reference saves.
void image_to_rgb8(uint8_t* rgb, const float* image, int H, int W);

}  // namespace dimba
