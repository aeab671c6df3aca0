// The tuning dataset's image transform (image_prep.h).
// defines: prepare_image
#include "tuning/image_prep.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace dimba {
namespace {

// One axis of PIL's resample with the bilinear (triangle) filter: for each output index, the
// first input index and its normalised weights.
struct Taps {
  std::vector<int> first;
  std::vector<std::vector<float>> w;
};

Taps bilinear_taps(int in, int out) {
  const double scale = double(in) / out, fscale = std::max(scale, 1.0), support = fscale;
  Taps t;
  t.first.resize(size_t(out));
  t.w.resize(size_t(out));
  for (int i = 0; i < out; ++i) {
    const double centre = (i + 0.5) * scale;
    const int lo = std::max(int(centre - support + 0.5), 0), hi = std::min(int(centre + support + 0.5), in);
    double sum = 0;
    std::vector<float>& w = t.w[size_t(i)];
    for (int x = lo; x < hi; ++x) {
      const double d = std::fabs((x - centre + 0.5) / fscale);
      const double v = d < 1.0 ? 1.0 - d : 0.0;
      w.push_back(float(v));
      sum += v;
    }
    if (sum > 0)
      for (float& v : w) v = float(v / sum);
    t.first[size_t(i)] = lo;
  }
  return t;
}

}  // namespace

std::vector<float> prepare_image(const uint8_t* rgb, int w, int h, int size) {
  if (w <= 0 || h <= 0 || size <= 0) throw EngineError(ErrorCode::InvalidArgument, "image: sizes must be positive");
  if (w < size || h < size)
    throw EngineError(ErrorCode::InvalidArgument, "image: " + std::to_string(w) + "x" + std::to_string(h) +
                                                      " is smaller than the model's " + std::to_string(size) + " px");
  // torchvision Resize(int): the shorter side becomes size, the other keeps the aspect (truncated).
  const int ow = w <= h ? size : int(int64_t(size) * w / h);
  const int oh = w <= h ? int(int64_t(size) * h / w) : size;
  const int left = int(std::lround((ow - size) / 2.0)), top = int(std::lround((oh - size) / 2.0));
  const Taps tx = bilinear_taps(w, ow), ty = bilinear_taps(h, oh);
  // Horizontal pass over the rows the crop needs (only the crop's columns), then vertical.
  int row_lo = h, row_hi = 0;
  for (int y = top; y < top + size; ++y) {
    row_lo = std::min(row_lo, ty.first[size_t(y)]);
    row_hi = std::max(row_hi, ty.first[size_t(y)] + int(ty.w[size_t(y)].size()));
  }
  std::vector<float> rows(size_t(row_hi - row_lo) * size * 3);
  for (int y = row_lo; y < row_hi; ++y)
    for (int x = 0; x < size; ++x) {
      const int ix = left + x, f = tx.first[size_t(ix)];
      const std::vector<float>& wx = tx.w[size_t(ix)];
      float acc[3] = {0, 0, 0};
      for (size_t k = 0; k < wx.size(); ++k) {
        const uint8_t* p = rgb + (size_t(y) * w + size_t(f) + k) * 3;
        for (int c = 0; c < 3; ++c) acc[c] += wx[k] * float(p[c]);
      }
      float* o = rows.data() + (size_t(y - row_lo) * size + x) * 3;
      for (int c = 0; c < 3; ++c) o[c] = acc[c];
    }
  std::vector<float> out(size_t(3) * size * size);
  for (int y = 0; y < size; ++y) {
    const int iy = top + y, f = ty.first[size_t(iy)];
    const std::vector<float>& wy = ty.w[size_t(iy)];
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c) {
        float acc = 0;
        for (size_t k = 0; k < wy.size(); ++k) acc += wy[k] * rows[(size_t(f - row_lo + int(k)) * size + x) * 3 + c];
        const float v = std::clamp(acc, 0.0f, 255.0f) / 255.0f;  // ToTensor
        out[(size_t(c) * size + y) * size + x] = (v - 0.5f) / 0.5f;  // Normalize(0.5, 0.5)
      }
  }
  return out;
}

}  // namespace dimba
