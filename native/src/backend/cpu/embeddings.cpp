// Fixed sinusoidal embeddings, computed in float64 then rounded (MODEL.md section 2 steps 2-3).
// defines: sincos_pos_embed_2d, timestep_embedding_forward
#include <cmath>

#include "backend/cpu/ops.h"

namespace dimba::cpu {
namespace {

// emb1d(D, pos) = concat(sin(pos*omega), cos(pos*omega)), omega_i = 1/10000^(i/(D/2)).
void emb1d(float* out, int D, double pos) {
  const int half = D / 2;
  for (int i = 0; i < half; ++i) {
    double omega = 1.0 / std::pow(10000.0, double(i) / (double(D) / 2.0));
    out[i] = float(std::sin(pos * omega));
    out[half + i] = float(std::cos(pos * omega));
  }
}

}  // namespace

void sincos_pos_embed_2d(float* out, int C, int h, int w, double base_size, double pe_interpolation) {
  for (int i = 0; i < h; ++i)
    for (int j = 0; j < w; ++j) {
      const double gh = double(i) / (double(h) / base_size) / pe_interpolation;
      const double gw = double(j) / (double(w) / base_size) / pe_interpolation;
      float* row = out + (int64_t(i) * w + j) * C;
      // Quirk (MODEL.md 2.2): the column coordinate fills the first half, as the
      // reference's meshgrid stacking yields.
      emb1d(row, C / 2, gw);
      emb1d(row + C / 2, C / 2, gh);
    }
}

void timestep_embedding_forward(float* out, const float* t, int B, int dim, double max_period) {
  const int half = dim / 2;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < half; ++i) {
      double f = std::exp(-std::log(max_period) * double(i) / double(half));
      double a = double(t[b]) * f;
      out[int64_t(b) * dim + i] = float(std::cos(a));
      out[int64_t(b) * dim + half + i] = float(std::sin(a));
    }
}

}  // namespace dimba::cpu
