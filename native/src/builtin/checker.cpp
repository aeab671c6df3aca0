// The built-in model's checker (checker.h).
#include "builtin/checker.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/error.h"

namespace dimba::builtin {

namespace {

float dist2(const float* a, const std::array<uint8_t, 3>& p) {
  float d = 0;
  for (int c = 0; c < 3; ++c) d += (a[c] - p[size_t(c)]) * (a[c] - p[size_t(c)]);
  return d;
}

int nearest_palette(const float* rgb) {
  int best = 0;
  float bd = 1e30f;
  for (int k = 0; k < kColours; ++k) {
    const float d = dist2(rgb, kPalette[size_t(k)]);
    if (d < bd) bd = d, best = k;
  }
  return best;
}

// The offset of each shape's area centroid from its centre, in radii (v down), sampled once.
const std::array<std::array<float, 2>, kShapes>& shape_centroids() {
  static const auto table = [] {
    std::array<std::array<float, 2>, kShapes> t{};
    for (int s = 0; s < kShapes; ++s) {
      double su = 0, sv = 0, n = 0;
      for (int i = 0; i < 200; ++i)
        for (int j = 0; j < 200; ++j) {
          const float u = -1 + (i + 0.5f) / 100, v = -1 + (j + 0.5f) / 100;
          if (shape_contains(s, u, v)) su += u, sv += v, n += 1;
        }
      t[size_t(s)] = {float(su / n), float(sv / n)};
    }
    return t;
  }();
  return table;
}

}  // namespace

Measurement measure_image(const uint8_t* rgb, int size) {
  if (size < 8 || size > 4096) throw EngineError(ErrorCode::InvalidArgument, "measure_image: size must be 8..4096");
  const int S = size, N = S * S;
  std::vector<float> px(size_t(N) * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = rgb[i];
  Measurement m;

  // Background: the vote of the border pixels, then the mean of the voters for that colour.
  std::array<int, kColours> votes{};
  std::vector<int> border;
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x)
      if (x == 0 || y == 0 || x == S - 1 || y == S - 1) border.push_back(y * S + x);
  for (int i : border) ++votes[size_t(nearest_palette(&px[size_t(i) * 3]))];
  m.background = int(std::max_element(votes.begin(), votes.end()) - votes.begin());
  float bg[3] = {0, 0, 0};
  int nb = 0;
  for (int i : border)
    if (nearest_palette(&px[size_t(i) * 3]) == m.background) {
      for (int c = 0; c < 3; ++c) bg[c] += px[size_t(i) * 3 + size_t(c)];
      ++nb;
    }
  for (float& v : bg) v /= float(nb);

  // Object: far pixels, their median colour.
  constexpr float kFar = 80.f;
  std::vector<int> far;
  for (int i = 0; i < N; ++i) {
    float d = 0;
    for (int c = 0; c < 3; ++c) d += (px[size_t(i) * 3 + size_t(c)] - bg[c]) * (px[size_t(i) * 3 + size_t(c)] - bg[c]);
    if (d > kFar * kFar) far.push_back(i);
  }
  if (far.size() < 4) return m;
  m.found = true;
  float obj[3];
  for (int c = 0; c < 3; ++c) {
    std::vector<float> ch;
    ch.reserve(far.size());
    for (int i : far) ch.push_back(px[size_t(i) * 3 + size_t(c)]);
    std::nth_element(ch.begin(), ch.begin() + long(ch.size() / 2), ch.end());
    obj[c] = ch[ch.size() / 2];
  }
  m.colour = nearest_palette(obj);

  // Alpha: the projection on the background -> object line, clamped to [0, 1].
  float dir[3], len2 = 0;
  for (int c = 0; c < 3; ++c) dir[c] = obj[c] - bg[c], len2 += dir[c] * dir[c];
  std::vector<float> alpha(static_cast<size_t>(N));
  double sa = 0, sx = 0, sy = 0;
  for (int i = 0; i < N; ++i) {
    float d = 0;
    for (int c = 0; c < 3; ++c) d += (px[size_t(i) * 3 + size_t(c)] - bg[c]) * dir[c];
    const float a = std::clamp(d / std::max(len2, 1.f), 0.f, 1.f);
    alpha[size_t(i)] = a;
    sa += a, sx += a * (i % S + 0.5), sy += a * (i / S + 0.5);
  }
  const float cx = float(sx / sa), cy = float(sy / sa);
  float best = 1e30f;
  for (int p = 0; p < kPositions; ++p) {
    const float dx = cx - kPositionAnchors[size_t(p)][0] * S, dy = cy - kPositionAnchors[size_t(p)][1] * S;
    if (dx * dx + dy * dy < best) best = dx * dx + dy * dy, m.position = p;
  }

  // Shape: the best soft IoU over templates (2x2 samples per pixel) aligned on the centroid.
  const float scale = float(S) / 32.f;
  float best_iou = -1;
  for (int s = 0; s < kShapes; ++s) {
    const auto off = shape_centroids()[size_t(s)];
    for (float r32 = 2.5f; r32 <= 11.f; r32 += 0.25f) {
      const float r = r32 * scale;
      for (int sh = 0; sh < 9; ++sh) {
        const float ox = cx - off[0] * r + (sh % 3 - 1) * 0.5f * scale;
        const float oy = cy - off[1] * r + (sh / 3 - 1) * 0.5f * scale;
        double inter = 0, uni = 0;
        const int x0 = std::max(0, int(ox - r - 2)), x1 = std::min(S, int(ox + r + 3));
        const int y0 = std::max(0, int(oy - r - 2)), y1 = std::min(S, int(oy + r + 3));
        double inside_alpha = 0;
        for (int y = y0; y < y1; ++y)
          for (int x = x0; x < x1; ++x) {
            int hits = 0;
            for (int q = 0; q < 4; ++q)
              hits += shape_contains(s, (x + 0.25f + 0.5f * (q % 2) - ox) / r, (y + 0.25f + 0.5f * (q / 2) - oy) / r);
            const float t = hits * 0.25f, a = alpha[size_t(y) * S + size_t(x)];
            inter += std::min(t, a);
            uni += std::max(t, a);
            inside_alpha += a;
          }
        uni += sa - inside_alpha;  // alpha outside the template's box
        const float iou = float(inter / std::max(uni, 1e-9));
        if (iou > best_iou) best_iou = iou, m.shape = s;
      }
    }
  }
  return m;
}

void Tally::add(const Scene& want, const Measurement& got) {
  ++n;
  const bool b = got.background == want.background, c = got.colour == want.colour;
  const bool p = got.position == want.position, s = got.shape == want.shape;
  background += b, colour += c, position += p, shape += s, all += (b && c && p && s);
  ++shape_as[want.shape][got.shape >= 0 ? got.shape : kShapes];
}

std::string Tally::json() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "{\"n\": %d, \"colour\": %.4f, \"background\": %.4f, \"position\": %.4f, \"shape\": %.4f, "
                "\"all\": %.4f, \"shape_confusion\": {",
                n, rate(colour), rate(background), rate(position), rate(shape), rate(all));
  std::string out = buf;
  for (int w = 0; w < kShapes; ++w) {
    out += std::string(w ? ", \"" : "\"") + kShapeNames[size_t(w)] + "\": [";
    for (int g = 0; g <= kShapes; ++g) out += (g ? ", " : "") + std::to_string(shape_as[w][g]);
    out += "]";
  }
  return out + "}}";
}

}  // namespace dimba::builtin
