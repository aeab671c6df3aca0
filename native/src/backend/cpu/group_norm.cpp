// GroupNorm over channels-last activations (the VAE's only normalisation, MODEL.md section 6):
// each sample's C channels split into G groups of C/G consecutive channels, normalised over
// all HW positions of the group together, then a per-channel affine. Statistics are summed in
// double and the variance is taken around the mean (two passes), so a 1024x1024x128 group
// (4M values) loses nothing to cancellation. Rows are split over the engine's threads.
// defines: group_norm_forward
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/threadpool.h"

namespace dimba::cpu {

void group_norm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                        const float* bias, int B, int64_t HW, int C, int G, float eps) {
  if (G <= 0 || C % G != 0)
    throw EngineError(ErrorCode::InvalidArgument, "group_norm_forward: C=" + std::to_string(C) +
                                                      " is not a multiple of G=" + std::to_string(G));
  const int cg = C / G;
  const double count = double(HW) * cg;
  // Rows are summed in kChunks fixed row ranges (threads take whole chunks) and the chunk
  // partials added in order, so the result does not depend on the thread count.
  constexpr int kChunks = 16;
  const int64_t chunk = (HW + kChunks - 1) / kChunks;
  std::vector<double> part(static_cast<size_t>(kChunks) * G), mu(static_cast<size_t>(G));
  std::vector<float> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
  ThreadPool& pool = ThreadPool::global();
  for (int b = 0; b < B; ++b) {
    const float* x = inp + int64_t(b) * HW * C;
    float* y = out + int64_t(b) * HW * C;
    // Pass 1: per-group means. mu is null in pass 1; pass 2 sums squares around mu.
    auto sums = [&](const double* mean) {
      std::fill(part.begin(), part.end(), 0.0);
      pool.parallel_for(kChunks, [&](int64_t c0, int64_t c1) {
        for (int64_t ch = c0; ch < c1; ++ch) {
          double* acc = part.data() + ch * G;
          for (int64_t p = ch * chunk; p < std::min(HW, (ch + 1) * chunk); ++p) {
            const float* row = x + p * C;
            for (int g = 0; g < G; ++g) {
              float s = 0.0f;  // a group's slice of one row is short: f32 there, double across rows
              if (mean) {
                const float m = float(mean[g]);
                for (int c = g * cg; c < (g + 1) * cg; ++c) s += (row[c] - m) * (row[c] - m);
              } else {
                for (int c = g * cg; c < (g + 1) * cg; ++c) s += row[c];
              }
              acc[g] += s;
            }
          }
        }
      });
    };
    sums(nullptr);
    for (int g = 0; g < G; ++g) {
      double t = 0;
      for (int ch = 0; ch < kChunks; ++ch) t += part[size_t(ch) * G + g];
      mu[size_t(g)] = t / count;
    }
    sums(mu.data());  // pass 2: variance around the mean
    // Fold the normalisation and the affine into one scale and shift per channel.
    for (int g = 0; g < G; ++g) {
      double t = 0;
      for (int ch = 0; ch < kChunks; ++ch) t += part[size_t(ch) * G + g];
      const double r = 1.0 / std::sqrt(t / count + double(eps));
      if (mean) mean[int64_t(b) * G + g] = float(mu[size_t(g)]);
      if (rstd) rstd[int64_t(b) * G + g] = float(r);
      for (int c = g * cg; c < (g + 1) * cg; ++c) {
        const double w = weight ? weight[c] : 1.0, bb = bias ? bias[c] : 0.0;
        scale[size_t(c)] = float(r * w);
        shift[size_t(c)] = float(bb - mu[size_t(g)] * r * w);
      }
    }
    pool.parallel_for(HW, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const float* row = x + p * C;
        float* o = y + p * C;
        for (int c = 0; c < C; ++c) o[c] = row[c] * scale[size_t(c)] + shift[size_t(c)];
      }
    }, 256);
  }
}

}  // namespace dimba::cpu
