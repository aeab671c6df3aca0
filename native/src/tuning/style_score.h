// How much a set of built-in-model images shows one style (issue 12's acceptance): the built-in
// checker (builtin/checker.h) measures each 32 px image, and the score is the share whose
// object colour, shape and background are the style's (each alone, and all three at once).
// defines: Style, StyleScore, score_style
#pragma once
#include <string>
#include <vector>

#include "tuning/tuning_run.h"

namespace dimba {

struct Style {
  int colour = 3, shape = 3, background = 7;  // builtin/scenes.h indices: green star on black
};

struct StyleScore {
  int n = 0;
  double colour = 0, shape = 0, background = 0, all = 0;  // shares in [0, 1]
  std::string json() const;
};

// Images must be the built-in model's size (32 px) or larger squares.
StyleScore score_style(const std::vector<TuningSample>& images, const Style& style);

}  // namespace dimba
