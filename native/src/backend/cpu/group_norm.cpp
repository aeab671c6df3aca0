// GroupNorm over channels-last activations (the VAE's only normalisation, MODEL.md section 6):
// each sample's C channels split into G groups of C/G consecutive channels, normalised over
// all HW positions of the group together, then a per-channel affine. Statistics are summed in
// double and the variance is taken around the mean (two passes), so a 1024x1024x128 group
// (4M values) loses nothing to cancellation.
// defines: group_norm_forward
#include <cmath>
#include <vector>

#include "backend/cpu/ops.h"
#include "core/error.h"

namespace dimba::cpu {

void group_norm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                        const float* bias, int B, int64_t HW, int C, int G, float eps) {
  if (G <= 0 || C % G != 0)
    throw EngineError(ErrorCode::InvalidArgument, "group_norm_forward: C=" + std::to_string(C) +
                                                      " is not a multiple of G=" + std::to_string(G));
  const int cg = C / G;
  const double count = double(HW) * cg;
  std::vector<double> sum(static_cast<size_t>(G)), sq(static_cast<size_t>(G));
  std::vector<float> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
  for (int b = 0; b < B; ++b) {
    const float* x = inp + int64_t(b) * HW * C;
    float* y = out + int64_t(b) * HW * C;
    // Pass 1: per-group means. Rows are walked in order so the read is one linear stream.
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t p = 0; p < HW; ++p) {
      const float* row = x + p * C;
      for (int g = 0; g < G; ++g) {
        float s = 0.0f;  // a group's slice of one row is short: f32 there, double across rows
        for (int c = g * cg; c < (g + 1) * cg; ++c) s += row[c];
        sum[size_t(g)] += s;
      }
    }
    for (int g = 0; g < G; ++g) sum[size_t(g)] /= count;
    // Pass 2: variance around the mean.
    std::fill(sq.begin(), sq.end(), 0.0);
    for (int64_t p = 0; p < HW; ++p) {
      const float* row = x + p * C;
      for (int g = 0; g < G; ++g) {
        const float m = float(sum[size_t(g)]);
        float s = 0.0f;
        for (int c = g * cg; c < (g + 1) * cg; ++c) {
          const float d = row[c] - m;
          s += d * d;
        }
        sq[size_t(g)] += s;
      }
    }
    // Fold the normalisation and the affine into one scale and shift per channel.
    for (int g = 0; g < G; ++g) {
      const double r = 1.0 / std::sqrt(sq[size_t(g)] / count + double(eps));
      if (mean) mean[int64_t(b) * G + g] = float(sum[size_t(g)]);
      if (rstd) rstd[int64_t(b) * G + g] = float(r);
      for (int c = g * cg; c < (g + 1) * cg; ++c) {
        const double w = weight ? weight[c] : 1.0, bb = bias ? bias[c] : 0.0;
        scale[size_t(c)] = float(r * w);
        shift[size_t(c)] = float(bb - sum[size_t(g)] * r * w);
      }
    }
    for (int64_t p = 0; p < HW; ++p) {
      const float* row = x + p * C;
      float* o = y + p * C;
      for (int c = 0; c < C; ++c) o[c] = row[c] * scale[size_t(c)] + shift[size_t(c)];
    }
  }
}

}  // namespace dimba::cpu
