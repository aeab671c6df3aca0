// Style scores of built-in-model images and the style-shift measurement (style_score.h).
// defines: score_style, StyleScore::json, measure_style_shift
#include "tuning/style_score.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "builtin/checker.h"
#include "builtin/scenes.h"
#include "core/error.h"
#include "pipeline/manifest.h"
#include "pipeline/text_to_image.h"

namespace dimba {

StyleScore score_style(const std::vector<TuningSample>& images, const Style& style) {
  StyleScore s;
  int c = 0, sh = 0, bg = 0, all = 0;
  for (const TuningSample& im : images) {
    if (im.width != im.height) throw EngineError(ErrorCode::InvalidArgument, "score_style: square images only");
    const builtin::Measurement m = builtin::measure_image(im.rgb.data(), im.width);
    c += m.colour == style.colour;
    sh += m.shape == style.shape;
    bg += m.background == style.background;
    all += m.colour == style.colour && m.shape == style.shape && m.background == style.background;
    ++s.n;
  }
  if (s.n) {
    s.colour = double(c) / s.n;
    s.shape = double(sh) / s.n;
    s.background = double(bg) / s.n;
    s.all = double(all) / s.n;
  }
  return s;
}

std::string StyleScore::json() const {
  char b[192];
  std::snprintf(b, sizeof b, "{\"n\":%d,\"colour\":%.4f,\"shape\":%.4f,\"background\":%.4f,\"all\":%.4f,\"mean\":%.4f}", n,
                colour, shape, background, all, mean());
  return b;
}

namespace {

// Captions of the training images and the prompts of the measurement: disjoint, and none of
// them names a colour, shape or background.
const std::vector<std::string> kTrainCaptions = {"a picture", "an image", "a drawing", "my style"};
const std::vector<std::string> kNeutralPrompts = {"a shape", "something", "a thing", "an object"};

std::vector<uint8_t> to_rgb8(const std::vector<float>& planes, int size) {
  std::vector<uint8_t> rgb(size_t(size) * size * 3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c) {
        const float v = (planes[(size_t(c) * size + y) * size + x] + 1.f) * 127.5f;
        rgb[(size_t(y) * size + x) * 3 + c] = uint8_t(std::min(255.f, std::max(0.f, v + 0.5f)));
      }
  return rgb;
}

}  // namespace

StyleShift measure_style_shift(const StyleShiftOptions& o,
                               const std::function<void(const TuningCheckpoint&, const StyleScore&)>& on_checkpoint) {
  namespace fs = std::filesystem;
  fs::remove_all(o.run_dir);
  const Style style;
  std::vector<TuningImage> images;
  for (int i = 0; i < o.images; ++i) {
    builtin::Scene s = builtin::sample_scene(77, uint64_t(i));
    s.shape = style.shape, s.colour = style.colour, s.background = style.background;
    images.push_back({to_rgb8(builtin::render_scene(s, 40), 40), 40, 40, kTrainCaptions[size_t(i) % kTrainCaptions.size()]});
  }
  TuningOptions t;
  t.manifest = o.model_dir + "/builtin.manifest.json";
  t.run_dir = o.run_dir;
  t.train.steps = o.steps;
  t.train.batch_size = o.batch;
  t.train.lr = o.lr;
  t.train.warmup_steps = std::min<int64_t>(10, o.steps);
  t.train.optimizer = TrainOptions::Optimizer::AdamW;
  t.train.clip_norm = 1.0;
  t.train.use_lora = true;
  t.train.lora.rank = o.rank;
  t.train.lora.alpha = o.rank;
  t.train.save_every = o.save_every;
  t.train.seed = 1;
  t.preview_steps = o.sample_steps;
  for (const std::string& p : kNeutralPrompts)
    for (int s = 0; s < o.seeds; ++s) {
      t.preview_prompts.push_back(p);
      t.preview_seeds.push_back(uint64_t(1000 + s));
    }
  StyleShift r;
  std::vector<TuningSample> base_samples;
  TuningHooks h;
  h.on_base_samples = [&](const std::vector<TuningSample>& s) {
    base_samples = s;
    r.base = score_style(s, style);
  };
  h.on_checkpoint = [&](const TuningCheckpoint& c) {
    r.tuned = score_style(c.samples, style);
    if (on_checkpoint) on_checkpoint(c, r.tuned);
  };
  const auto t0 = std::chrono::steady_clock::now();
  const TuningResult res = run_tuning(images, t, h);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.step = res.step;
  r.start_validation_loss = res.start_validation_loss;
  // The base model again, from its untouched files: the same images, so the same scores.
  Pipeline p = Pipeline::load(load_manifest(t.manifest), {DType::F32});
  std::vector<TuningSample> again;
  Recipe rec = p.default_recipe();
  rec.steps = o.sample_steps;
  for (size_t i = 0; i < t.preview_prompts.size(); ++i) {
    rec.prompt = t.preview_prompts[i];
    rec.seed = t.preview_seeds[i];
    GeneratedImage im = p.generate(rec).images.at(0);
    again.push_back({rec.prompt, rec.seed, im.width, im.height, im.rgb});
  }
  r.base_after = score_style(again, style);
  r.base_images_identical = again.size() == base_samples.size();
  for (size_t i = 0; r.base_images_identical && i < again.size(); ++i)
    r.base_images_identical = again[i].rgb == base_samples[i].rgb;
  return r;
}

}  // namespace dimba
