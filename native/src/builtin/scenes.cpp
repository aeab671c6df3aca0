// Procedural scenes and captions for the built-in model (see scenes.h).
#include "builtin/scenes.h"

#include <cmath>
#include <stdexcept>

#include "core/error.h"

namespace dimba::builtin {

const std::array<const char*, kShapes> kShapeNames = {"circle", "square", "triangle", "star", "ring"};
const std::array<const char*, kColours> kColourNames = {"red",  "orange", "yellow", "green",
                                                        "blue", "purple", "white",  "black"};
// Far apart in RGB so that a small model's slightly-off colour still lands on the right name.
const std::array<std::array<uint8_t, 3>, kColours> kPalette = {{{220, 40, 40},
                                                                {245, 140, 20},
                                                                {240, 225, 40},
                                                                {40, 170, 60},
                                                                {40, 80, 220},
                                                                {150, 50, 190},
                                                                {240, 240, 240},
                                                                {20, 20, 20}}};
const std::array<const char*, kPositions> kPositionNames = {"centre", "left", "right", "top", "bottom"};
const std::array<const char*, kSizes> kSizeNames = {"small", "large"};
const std::array<std::array<float, 2>, kPositions> kPositionAnchors = {
    {{0.5f, 0.5f}, {0.25f, 0.5f}, {0.75f, 0.5f}, {0.5f, 0.25f}, {0.5f, 0.75f}}};

const std::array<float, kSizes> kSizeRadius = {4.5f, 7.0f};

namespace {

constexpr float kJitter = 1.5f;                   // +- pixels at 32 px

uint64_t mix(uint64_t seed, uint64_t index, uint64_t stream) {
  return splitmix64(splitmix64(seed ^ 0x9e3779b97f4a7c15ull) ^ splitmix64(index * 0x100 + stream));
}
// A draw in [0, n) and in [0, 1) from one 64-bit hash.
int below(uint64_t h, int n) { return int((h >> 11) % uint64_t(n)); }
float unit(uint64_t h) { return float(double(h >> 11) / 9007199254740992.0); }

}  // namespace

bool shape_contains(int shape, float u, float v) {
  switch (shape) {
    case 0: return u * u + v * v <= 1.0f;
    case 1: return std::fabs(u) <= 0.8f && std::fabs(v) <= 0.8f;
    case 2: {  // apex up: (0, -1), (-0.9, 0.6), (0.9, 0.6)
      if (v > 0.6f || v < -1.0f) return false;
      const float half = 0.9f * (v + 1.0f) / 1.6f;
      return std::fabs(u) <= half;
    }
    case 3: {  // five points: radius between 0.42 and 1 by angle (a star polygon)
      const float r = std::sqrt(u * u + v * v);
      if (r > 1.0f) return false;
      if (r < 0.4f) return true;
      const float kPi = 3.14159265358979f;
      float a = std::atan2(u, -v);  // 0 at the top point, clockwise
      if (a < 0) a += 2 * kPi;
      const float seg = 2 * kPi / 5;
      float f = std::fmod(a, seg) / seg;  // 0 at a point, 0.5 at a notch
      f = f > 0.5f ? 1.0f - f : f;        // 0..0.5
      // Straight edges between the outer point (1 at f=0) and the notch (0.4 at f=0.5),
      // approximated by linear interpolation of the radius along the angle.
      const float edge = 1.0f - (1.0f - 0.4f) * (f / 0.5f);
      return r <= edge;
    }
    case 4: {
      const float d = u * u + v * v;
      return d <= 1.0f && d >= 0.5f * 0.5f;
    }
    default: return false;
  }
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

bool is_held_out(int shape, int colour, int background, int position) {
  if (colour == background) return false;
  const uint64_t combo = uint64_t(((shape * kColours + colour) * kColours + background) * kPositions + position);
  return splitmix64(combo ^ 0xd1b54a32d192ed03ull) % 6 == 0;
}

Scene sample_scene(uint64_t seed, uint64_t index) {
  for (uint64_t attempt = 0;; ++attempt) {
    const uint64_t k = index * 64 + attempt;
    Scene s;
    s.shape = below(mix(seed, k, 1), kShapes);
    s.colour = below(mix(seed, k, 2), kColours);
    s.background = below(mix(seed, k, 3), kColours - 1);
    if (s.background >= s.colour) ++s.background;  // never the object's colour
    s.position = below(mix(seed, k, 4), kPositions);
    s.size = below(mix(seed, k, 5), kSizes);
    s.jitter_x = (unit(mix(seed, k, 6)) * 2 - 1) * kJitter;
    s.jitter_y = (unit(mix(seed, k, 7)) * 2 - 1) * kJitter;
    if (!is_held_out(s.shape, s.colour, s.background, s.position)) return s;
  }
}

std::vector<float> render_scene(const Scene& s, int size) {
  if (size < 8 || size > 4096) throw EngineError(ErrorCode::InvalidArgument, "render_scene: size must be 8..4096");
  const float scale = float(size) / 32.0f;
  const float cx = kPositionAnchors[size_t(s.position)][0] * size + s.jitter_x * scale;
  const float cy = kPositionAnchors[size_t(s.position)][1] * size + s.jitter_y * scale;
  const float r = kSizeRadius[size_t(s.size)] * scale;
  const auto& fg = kPalette[size_t(s.colour)];
  const auto& bg = kPalette[size_t(s.background)];
  const size_t plane = size_t(size) * size;
  std::vector<float> img(3 * plane);
  constexpr int kSub = 4;  // 4x4 samples per pixel: the coverage is the anti-aliased alpha
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      int hits = 0;
      for (int sy = 0; sy < kSub; ++sy)
        for (int sx = 0; sx < kSub; ++sx) {
          const float px = x + (sx + 0.5f) / kSub, py = y + (sy + 0.5f) / kSub;
          hits += shape_contains(s.shape, (px - cx) / r, (py - cy) / r);
        }
      const float a = float(hits) / (kSub * kSub);
      for (int c = 0; c < 3; ++c) {
        const float v = bg[size_t(c)] * (1 - a) + fg[size_t(c)] * a;
        img[size_t(c) * plane + size_t(y) * size + size_t(x)] = v / 127.5f - 1.0f;
      }
    }
  return img;
}

namespace {

const char* article(const char* next_word) {
  const char c = next_word[0];
  return (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u') ? "an" : "a";
}

const char* position_phrase(int position, int variant) {
  static const char* const kPhrases[kPositions][3] = {
      {"in the centre", "in the middle", "at the centre"},
      {"on the left", "at the left", "on the left side"},
      {"on the right", "at the right", "on the right side"},
      {"at the top", "near the top", "at the top"},
      {"at the bottom", "near the bottom", "at the bottom"}};
  return kPhrases[position][variant % 3];
}

}  // namespace

std::string caption_scene(const Scene& s, uint64_t seed, uint64_t index) {
  const uint64_t k = index ^ 0x5bd1e995ull;
  const bool with_size = unit(mix(seed, k, 11)) < 0.5f;
  // Only a centred object may go without its position, so that a prompt naming none ("a red
  // star on a blue background") means the centre. When any position could go unnamed
  // (15% of captions), such a prompt asked for a mixture of five places, and the model drew
  // the object in fragments spread over several of them.
  const bool with_pos = s.position != kCentre || unit(mix(seed, k, 12)) < 0.5f;
  const int form = below(mix(seed, k, 13), 6);
  const std::string adj = with_size ? std::string(kSizeNames[size_t(s.size)]) + " " : std::string();
  const std::string colour = kColourNames[size_t(s.colour)];
  const std::string noun = adj + colour + " " + kShapeNames[size_t(s.shape)];
  const std::string obj = std::string(article(noun.c_str())) + " " + noun;
  const std::string bg = kColourNames[size_t(s.background)];
  const std::string pos = with_pos ? position_phrase(s.position, below(mix(seed, k, 14), 3)) : "";
  const std::string sp_pos = with_pos ? " " + pos : "";
  switch (form) {
    case 0: return obj + sp_pos + " on " + article(bg.c_str()) + " " + bg + " background";
    case 1: return std::string(article(bg.c_str())) + " " + bg + " background with " + obj + sp_pos;
    case 2: return bg + " background with " + obj + sp_pos;
    case 3: return obj + sp_pos + ", " + bg + " background";
    case 4: return with_pos ? pos + ", " + obj + " on " + bg : obj + " on " + bg;
    default: return "a picture of " + obj + sp_pos + " against " + article(bg.c_str()) + " " + bg + " background";
  }
}

std::string full_caption(const Scene& s) {
  const std::string noun =
      std::string(kSizeNames[size_t(s.size)]) + " " + kColourNames[size_t(s.colour)] + " " + kShapeNames[size_t(s.shape)];
  const std::string bg = kColourNames[size_t(s.background)];
  return std::string(article(noun.c_str())) + " " + noun + " " + position_phrase(s.position, 0) + " on " +
         article(bg.c_str()) + " " + bg + " background";
}

std::string plain_caption(const Scene& s) {
  const std::string noun = std::string(kColourNames[size_t(s.colour)]) + " " + kShapeNames[size_t(s.shape)];
  const std::string bg = kColourNames[size_t(s.background)];
  return std::string(article(noun.c_str())) + " " + noun + " on " + article(bg.c_str()) + " " + bg + " background";
}

std::vector<Scene> held_out_scenes() {
  std::vector<Scene> out;
  for (int sh = 0; sh < kShapes; ++sh)
    for (int c = 0; c < kColours; ++c)
      for (int b = 0; b < kColours; ++b)
        for (int p = 0; p < kPositions; ++p)
          if (is_held_out(sh, c, b, p)) {
            Scene s;
            s.shape = sh;
            s.colour = c;
            s.background = b;
            s.position = p;
            s.size = int(out.size() % 2);
            out.push_back(s);
          }
  return out;
}

}  // namespace dimba::builtin
