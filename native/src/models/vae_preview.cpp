// A live preview of a latent during sampling, without running the decoder: each latent pixel
// becomes one RGB pixel through a fixed linear map 4 -> 3 plus a bias, giving roughly [-1, 1]
// per channel, then (x + 1) / 2 to 8 bits. It is meant to show composition and colour, not
// detail, at latent resolution (1/8 of the image).
//
// The coefficients are the commonly used approximate SDXL latent -> RGB factors published in
// ComfyUI's comfy/latent_formats.py (class SDXL: latent_rgb_factors and
// latent_rgb_factors_bias), fitted there on real SDXL VAE latents; they act on the latents as
// the diffusion model sees them (already multiplied by the scaling factor 0.13025). Our own
// SDXL-shaped VAE has random weights, so fitting the map to it would mean nothing.
// defines: vae_latent_preview_rgb8
#include <algorithm>
#include <cmath>

#include "models/vae.h"

namespace dimba {
namespace {

// kFactors[c][k]: latent channel c's contribution to R, G, B.
constexpr float kFactors[4][3] = {
    {0.3651f, 0.4232f, 0.4341f},
    {-0.2533f, -0.0042f, 0.1068f},
    {0.1076f, 0.1111f, -0.0362f},
    {-0.3165f, -0.2492f, -0.2188f},
};
constexpr float kBias[3] = {0.1084f, -0.0175f, -0.0011f};

}  // namespace

void vae_latent_preview_rgb8(uint8_t* rgb, const float* latent, int h, int w) {
  const int64_t hw = int64_t(h) * w;
  for (int64_t p = 0; p < hw; ++p)
    for (int k = 0; k < 3; ++k) {
      float v = kBias[k];
      for (int c = 0; c < 4; ++c) v += kFactors[c][k] * latent[c * hw + p];
      const float u = std::min(1.0f, std::max(0.0f, (v + 1.0f) * 0.5f));  // NaN -> 0 via max
      rgb[p * 3 + k] = uint8_t(std::lround(u * 255.0f));
    }
}

}  // namespace dimba
