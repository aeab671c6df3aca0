// How much a set of built-in-model images shows one style (issue 12's acceptance): the built-in
// checker (builtin/checker.h) measures each 32 px image, and the score is the share whose
// object colour, shape and background are the style's (each alone, and all three at once).
// `measure_style_shift` is the whole measurement: the built-in model tuned (LoRA) on renders of
// one style with neutral captions, scored on neutral prompts it never trained on, before, at
// each save, and (base again, from its untouched files) after.
// defines: Style, StyleScore, score_style, StyleShiftOptions, StyleShift, measure_style_shift
#pragma once
#include <cstdint>
#include <functional>
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
  double mean() const { return (colour + shape + background) / 3.0; }
  std::string json() const;
};

// Images must be square, 8 px or more (the checker's floor).
StyleScore score_style(const std::vector<TuningSample>& images, const Style& style);

struct StyleShiftOptions {
  std::string model_dir;  // a built-in model folder (builtin.manifest.json)
  std::string run_dir;    // the tuning run's folder (made fresh)
  int64_t steps = 200, save_every = 50;
  int images = 24;        // training renders (40 px, resized to 32 by the run)
  int seeds = 4;          // per neutral prompt (4 prompts)
  int rank = 8, batch = 8, sample_steps = 20;
  double lr = 2e-3;
};

struct StyleShift {
  StyleScore base, base_after, tuned;  // tuned: at the last save
  bool base_images_identical = false;
  int64_t step = 0;
  double seconds = 0, start_validation_loss = -1;
};

StyleShift measure_style_shift(const StyleShiftOptions& o,
                               const std::function<void(const TuningCheckpoint&, const StyleScore&)>& on_checkpoint = nullptr);

}  // namespace dimba
