// The built-in model's world (issue 8): procedural scenes, deterministic from a seed, of one
// shape (circle, square, triangle, star, ring) of a palette colour, size and position on a
// plain background of another palette colour, rendered with anti-aliasing (4x4 coverage per
// pixel) into [-1, 1] RGB planes, and captions from a small grammar with paraphrases.
// Nothing is downloaded: the dataset IS this code plus a seed.
//
//   Scene s = sample_scene(seed, index);           // pure function of (seed, index)
//   std::vector<float> img = render_scene(s, 32);  // (3, 32, 32) in [-1, 1]
//   std::string c = caption_scene(s, seed, index); // "a small red star on the left, blue background"
//
// Held-out evaluation: a fixed subset of the (shape, colour, background, position) combinations
// never appears in training (is_held_out), so the evaluation measures composition, not recall.
// defines: kShapeNames, kSizeRadius, shape_contains, kColourNames, kPalette, kPositionNames, Scene, sample_scene,
//          render_scene, caption_scene, full_caption, plain_caption, is_held_out, held_out_scenes, splitmix64
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace dimba::builtin {

constexpr int kShapes = 5, kColours = 8, kPositions = 5, kSizes = 2;
extern const std::array<const char*, kShapes> kShapeNames;     // circle square triangle star ring
extern const std::array<const char*, kColours> kColourNames;   // red orange yellow green blue purple white black
extern const std::array<std::array<uint8_t, 3>, kColours> kPalette;
extern const std::array<const char*, kPositions> kPositionNames;  // centre left right top bottom
constexpr int kCentre = 0;  // kPositionNames[kCentre]: where a caption without a position puts the object
extern const std::array<const char*, kSizes> kSizeNames;          // small large
// Anchor of each position as a fraction of the image side (x, y).
extern const std::array<std::array<float, 2>, kPositions> kPositionAnchors;

// The radius of each size at 32 px.
extern const std::array<float, kSizes> kSizeRadius;

// Whether (u, v) (pixels relative to the shape's centre, divided by its radius; v points
// down) lies inside `shape`: the one definition the renderer and the checker's templates share.
bool shape_contains(int shape, float u, float v);

struct Scene {
  int shape = 0, colour = 0, background = 1, position = 0, size = 0;
  float jitter_x = 0, jitter_y = 0;  // pixels at 32 px, scaled with the image
};

uint64_t splitmix64(uint64_t x);

// The training scene `index` of `seed` (never a held-out combination); colour != background.
Scene sample_scene(uint64_t seed, uint64_t index);
// (3, size, size) planes in [-1, 1]; size >= 8.
std::vector<float> render_scene(const Scene& s, int size);
// One caption drawn from the grammar's paraphrases (which attributes it states is drawn too:
// colour, shape and background always, size half the time, position always unless the object
// is in the centre, then half the time).
std::string caption_scene(const Scene& s, uint64_t seed, uint64_t index);
// The evaluation caption: every attribute the checker measures, one fixed phrasing.
std::string full_caption(const Scene& s);
// The shortest caption, colour, shape and background only ("a red star on a blue
// background"): by the dataset's convention its object is in the centre.
std::string plain_caption(const Scene& s);
// Whether (shape, colour, background, position) is reserved for evaluation.
bool is_held_out(int shape, int colour, int background, int position);
// Every held-out combination (about a sixth of 1400), each as a centred-jitter-free scene of
// size 'large' or 'small' alternately, without jitter, in a fixed order.
std::vector<Scene> held_out_scenes();

}  // namespace dimba::builtin
