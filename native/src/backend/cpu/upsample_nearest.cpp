// Nearest-neighbour upsampling by an integer factor on channels-last images (the VAE
// decoder's Upsample2D before its conv: output pixel (i, j) copies input (i/s, j/s)).
// defines: upsample_nearest_forward
#include <cstring>

#include "backend/cpu/ops.h"

namespace dimba::cpu {

void upsample_nearest_forward(float* out, const float* inp, int B, int H, int W, int C, int scale) {
  const int Ho = H * scale, Wo = W * scale;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < Ho; ++i) {
      const float* src = inp + (int64_t(b) * H + i / scale) * W * C;
      float* dst = out + (int64_t(b) * Ho + i) * Wo * C;
      if (i % scale != 0) {  // rows repeat: copy the output row just written
        std::memcpy(dst, dst - int64_t(Wo) * C, size_t(Wo) * C * sizeof(float));
        continue;
      }
      for (int j = 0; j < Wo; ++j) std::memcpy(dst + int64_t(j) * C, src + int64_t(j / scale) * C, size_t(C) * sizeof(float));
    }
}

}  // namespace dimba::cpu
