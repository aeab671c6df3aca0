// The built-in model's automatic checker (issue 8, in the spirit of T2I-CompBench's attribute
// binding checks, but with classic image analysis since the world is known exactly): for one
// generated RGB image it measures the background colour, the object's colour, its position
// and its shape class, and an evaluation aggregates per-attribute accuracy.
//
//   background = the palette colour most border pixels are nearest to
//   object     = pixels far from the background's mean colour; its colour = the palette colour
//                nearest the per-channel median of those pixels
//   alpha      = each pixel's coverage along the background -> object colour line
//   position   = the anchor (centre/left/right/top/bottom) nearest the alpha centroid
//   shape      = the shape whose rendered template (searched over radius and a small shift,
//                centred on the centroid) has the best soft IoU with the alpha
//
// No object found (fewer than 4 far pixels): colour, position and shape are -1 (wrong).
// defines: Measurement, measure_image, Tally
#pragma once
#include <cstdint>
#include <string>

#include "builtin/scenes.h"

namespace dimba::builtin {

struct Measurement {
  int background = -1, colour = -1, position = -1, shape = -1;
  bool found = false;
};

// rgb (size, size, 3) 8-bit; size >= 8. Throws InvalidArgument for a bad size.
Measurement measure_image(const uint8_t* rgb, int size);

// Per-attribute counts of correct measurements, and which shape each wanted shape was
// measured as (column kShapes: no object found), to see where shape accuracy goes.
struct Tally {
  int n = 0, background = 0, colour = 0, position = 0, shape = 0, all = 0;
  int shape_as[kShapes][kShapes + 1] = {};
  void add(const Scene& want, const Measurement& got);
  double rate(int k) const { return n ? double(k) / n : 0.0; }
  // {"n":..,"colour":..,"background":..,"position":..,"shape":..,"all":..,
  //  "shape_confusion":{"circle":[as circle, square, triangle, star, ring, none], ...}}
  std::string json() const;
};

}  // namespace dimba::builtin
