// Quality tuning (issue 12): the dataset transform, input checks before any compute, a short
// LoRA run that lowers the loss and samples at each save, resume from the last save giving the
// same adapters as an uninterrupted run, and variants applied at a strength.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "builtin/model.h"
#include "builtin/scenes.h"
#include "builtin/text.h"
#include "core/rng.h"
#include "harness.h"
#include "io/safetensors.h"
#include "pipeline/manifest.h"
#include "pipeline/text_to_image.h"
#include "training/lora.h"
#include "tuning/image_prep.h"
#include "tuning/style_score.h"
#include "tuning/tuning_run.h"
#include "tuning/variant.h"

using namespace dimba;
using namespace dimba::builtin;
namespace fs = std::filesystem;

namespace {

const std::string kDir = "/tmp/dimba-test-tuning-" + std::to_string(::getpid());

// A built-in-shaped model (hidden 32) with random weights everywhere, and its manifest.
std::string write_model() {
  const std::string dir = kDir + "/model";
  fs::create_directories(dir);
  DimbaConfig cfg = builtin_dimba_config(64, kBuiltinMaxLength, 4, 32);
  write_builtin_parts(dir, 9, cfg);
  ParamSet p = builtin_dimba_init(cfg, 10);
  for (size_t i = 0; i < p.count(); ++i) {
    std::vector<float> r(p.numel(i));
    fill_normal(r.data(), r.size(), 13, i * 7919);
    for (size_t k = 0; k < r.size(); ++k)
      if (p.at(i)[k] == 0.f) p.at(i)[k] = 0.05f * r[k];
  }
  std::map<std::string, TensorToSave> t;
  for (size_t i = 0; i < p.count(); ++i) t[p.names[i]] = {DType::F32, p.shapes[i], p.at(i)};
  save_safetensors(dir + "/dimba.safetensors", t);
  std::ofstream(dir + "/model.json")
      << "{\"format\": \"dimba-model-manifest\", \"version\": 1, \"id\": \"tuning-test\", \"resolution\": 32,"
         " \"dimba\": {\"config\": \"dimba.json\", \"weights\": \"dimba.safetensors\"},"
         " \"text_encoder\": {\"folder\": \"t5\", \"tokenizer\": \"spiece.model\"}, \"vae\": null,"
         " \"defaults\": {\"steps\": 6, \"guidance\": 4.0, \"width\": 32, \"height\": 32}}";
  return dir + "/model.json";
}

std::vector<uint8_t> to_rgb8(const std::vector<float>& planes, int size) {
  std::vector<uint8_t> rgb(size_t(size) * size * 3);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c)
        rgb[(size_t(y) * size + x) * 3 + c] =
            uint8_t(std::lround((planes[(size_t(c) * size + y) * size + x] + 1.f) * 127.5f));
  return rgb;
}

// n green stars on black, 48 px (resized to the model's 32 by the run).
std::vector<TuningImage> green_stars(int n) {
  std::vector<TuningImage> out;
  for (int i = 0; i < n; ++i) {
    Scene s;
    s.shape = 3, s.colour = 3, s.background = 7, s.position = i % kPositions, s.size = i % 2;
    out.push_back({to_rgb8(render_scene(s, 48), 48), 48, 48, "a green star, black background"});
  }
  return out;
}

TuningOptions lora_options(const std::string& manifest, const std::string& run) {
  TuningOptions o;
  o.manifest = manifest;
  o.run_dir = run;
  o.train.steps = 30;
  o.train.batch_size = 4;
  o.train.lr = 3e-3;
  o.train.optimizer = TrainOptions::Optimizer::AdamW;
  o.train.clip_norm = 1.0;
  o.train.use_lora = true;
  o.train.lora.rank = 4;
  o.train.lora.alpha = 4;
  o.train.save_every = 10;
  o.train.seed = 5;
  o.validation_fraction = 0.25;
  return o;
}

void image_transform() {
  // Shorter side already the size: no resampling, the centre square is cut out.
  std::vector<uint8_t> rgb(96 * 32 * 3);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 96; ++x) rgb[(size_t(y) * 96 + x) * 3 + (x < 32 ? 0 : x < 64 ? 1 : 2)] = 255;
  std::vector<float> px = prepare_image(rgb.data(), 96, 32, 32);
  CHECK(px.size() == 3 * 32 * 32);
  bool green = true;
  for (int i = 0; i < 32 * 32; ++i) green = green && px[size_t(i)] == -1.f && px[1024 + size_t(i)] == 1.f && px[2048 + size_t(i)] == -1.f;
  CHECK(green);
  // 2x down: alternate black/white columns average to grey (away from the clamped edge).
  std::vector<uint8_t> stripes(64 * 64 * 3);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c) stripes[(size_t(y) * 64 + x) * 3 + c] = x % 2 ? 255 : 0;
  px = prepare_image(stripes.data(), 64, 64, 32);
  CHECK(std::fabs(px[5 * 32 + 10]) < 1e-5);
  CHECK_THROWS_CODE(prepare_image(stripes.data(), 64, 20, 32), ErrorCode::InvalidArgument);
}

void bad_input_is_refused_before_compute() {
  const std::string manifest = write_model();
  const std::string run = kDir + "/bad";
  TuningOptions o = lora_options(manifest, run);
  CHECK_THROWS_CODE(run_tuning(green_stars(1), o, {}), ErrorCode::InvalidArgument);  // too few
  std::vector<TuningImage> imgs = green_stars(4);
  imgs[2].width = imgs[2].height = 20;  // smaller than 32 px
  imgs[2].rgb.resize(20 * 20 * 3);
  CHECK_THROWS_CODE(run_tuning(imgs, o, {}), ErrorCode::InvalidArgument);
  imgs = green_stars(4);
  imgs[1].rgb.resize(10);  // unreadable: pixels do not match the size
  CHECK_THROWS_CODE(run_tuning(imgs, o, {}), ErrorCode::InvalidArgument);
  CHECK(!fs::exists(run));  // nothing written, nothing computed
}

void short_lora_run_lowers_the_loss() {
  const std::string manifest = write_model();
  TuningOptions o = lora_options(manifest, kDir + "/run");
  o.preview_prompts = {"a red circle", "a shape"};
  o.preview_seeds = {1, 2};
  std::vector<TuningSample> base;
  std::vector<double> losses;
  TuningHooks h;
  h.on_base_samples = [&](const std::vector<TuningSample>& s) { base = s; };
  h.on_progress = [&](const TrainProgress& p) { losses.push_back(p.loss); };
  double start_validation = -1;
  h.on_start_validation = [&](double v) { start_validation = v; };
  TuningResult r = run_tuning(green_stars(8), o, h);
  CHECK(start_validation > 0 && start_validation == r.start_validation_loss);
  CHECK(r.step == 30 && !r.cancelled && r.resumed_from == 0);
  CHECK(r.train_images == 6 && r.validation_images == 2);
  CHECK(losses.size() == 30 && base.size() == 2);
  CHECK(r.checkpoints.size() == 3);
  for (const TuningCheckpoint& c : r.checkpoints) {
    std::printf("    step %lld train %.4f validation %.4f\n", (long long)c.step, c.train_loss, c.validation_loss);
    CHECK(fs::exists(c.path) && c.samples.size() == 2 && c.samples[0].rgb.size() == 32 * 32 * 3);
  }
  std::printf("    validation before %.4f\n", r.start_validation_loss);
  CHECK(r.checkpoints.back().validation_loss < r.start_validation_loss);
  CHECK(r.checkpoints.back().train_loss < r.checkpoints.front().train_loss);
  CHECK(r.checkpoints.back().samples[0].rgb != base[0].rgb);  // the tuned weights sample differently
  CHECK(Lora::load(r.checkpoints.back().path).cfg.rank == 4);
}

void resume_continues_from_the_last_save() {
  const std::string manifest = write_model();
  TuningOptions o = lora_options(manifest, kDir + "/stopped");
  o.train.steps = 20;
  o.validation_fraction = 0;
  std::atomic<bool> cancel{false};
  TuningHooks h;
  h.cancel = &cancel;
  h.on_progress = [&](const TrainProgress& p) { if (p.step == 14) cancel = true; };
  TuningResult a = run_tuning(green_stars(6), o, h);
  CHECK(a.cancelled && a.step == 14 && a.checkpoints.size() == 1 && a.checkpoints[0].step == 10);
  std::vector<int64_t> steps;
  TuningHooks h2;
  h2.on_progress = [&](const TrainProgress& p) { steps.push_back(p.step); };
  TuningResult b = run_tuning(green_stars(6), o, h2);
  CHECK(!b.cancelled && b.resumed_from == 10 && b.step == 20);
  CHECK(steps.size() == 10 && steps.front() == 11);
  // The same adapters as a run never stopped, bit for bit.
  TuningOptions o2 = o;
  o2.run_dir = kDir + "/straight";
  TuningResult c = run_tuning(green_stars(6), o2, {});
  Lora la = Lora::load(b.checkpoints.back().path), lc = Lora::load(c.checkpoints.back().path);
  CHECK(la.tensors.data == lc.tensors.data);
  // A cancel that lands while a checkpoint's samples are drawn: the variant is written and the
  // step reached is reported.
  TuningOptions o3 = o;
  o3.run_dir = kDir + "/stopped-sampling";
  o3.preview_prompts = {"a shape"};
  o3.preview_seeds = {1};
  std::atomic<bool> cancel3{false};
  TuningHooks h3;
  h3.cancel = &cancel3;
  h3.on_progress = [&](const TrainProgress& p) { if (p.step == 10) cancel3 = true; };
  TuningResult d = run_tuning(green_stars(6), o3, h3);
  CHECK(d.cancelled && d.step == 10 && fs::exists(tuning_checkpoint_path(o3.run_dir, 10)));
}

void full_fine_tune_saves_full_variants() {
  const std::string manifest = write_model();
  TuningOptions o = lora_options(manifest, kDir + "/full");
  o.train.use_lora = false;
  o.train.optimizer = TrainOptions::Optimizer::Came;
  o.train.lr = 2e-5;  // the paper's
  o.train.steps = 4;
  o.train.save_every = 2;
  o.validation_fraction = 0;
  TuningResult r = run_tuning(green_stars(4), o, {});
  CHECK(r.step == 4 && r.checkpoints.size() == 2);
  const ModelManifest m = load_manifest(manifest);
  ParamSet base = ParamSet::from_checkpoint(load_safetensors(m.dimba_weights), m.dimba);
  ParamSet tuned = base;
  apply_variant(tuned, r.checkpoints.back().path, 1.0);
  ParamSet saved = ParamSet::from_checkpoint(load_safetensors(r.checkpoints.back().path), m.dimba);
  CHECK(tuned.data == saved.data);
  CHECK(tuned.data != base.data);  // CAME moved the weights
}

void variants_apply_at_a_strength() {
  const std::string manifest = write_model();
  const ModelManifest m = load_manifest(manifest);
  ParamSet base = ParamSet::from_checkpoint(load_safetensors(m.dimba_weights), m.dimba);
  ParamSet tuned = base;
  for (float& v : tuned.data) v += 1.0f;
  const std::string full = kDir + "/full.safetensors";
  save_full_variant(full, tuned, 7);
  ParamSet half = base;
  apply_variant(half, full, 0.5);
  CHECK(std::fabs(half.data[3] - (base.data[3] + 0.5f)) < 1e-6);
  Lora l = Lora::create(base, LoraConfig{2, 2.0, {"attn.qkv"}}, 3);
  for (float& v : l.tensors.data) v = 0.1f;
  const std::string ad = kDir + "/lora.safetensors";
  l.save(ad);
  ParamSet zero = base, one = base, want = base;
  apply_variant(zero, ad, 0.0);
  CHECK(zero.data == base.data);
  apply_variant(one, ad, 1.0);
  l.merge_into(want, 1.0);
  CHECK(one.data == want.data);
  CHECK_THROWS_CODE(apply_variant(one, ad, -1.0), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(apply_variant(one, m.dimba_weights, 1.0), ErrorCode::BadFile);
  // A pipeline takes tuned weights of the same architecture only.
  Pipeline p = Pipeline::load(m, {DType::F32});
  p.set_dimba(dimba_from_params(one, m.dimba, DType::F32));
  DimbaConfig other = builtin_dimba_config(64, kBuiltinMaxLength, 2, 32);
  CHECK_THROWS_CODE(p.set_dimba(dimba_from_params(builtin_dimba_init(other, 1), other, DType::F32)),
                    ErrorCode::ModelMismatch);
}

// The least rise of the mean style share (colour, shape, background) that counts as a shift.
constexpr double kMinStyleShift = 0.1;

// Issue 12's acceptance in CI size: the built-in model (assets/builtin) tuned for a few steps
// on green stars on black moves its samples for neutral prompts toward that style, while the
// base model, generated again from its files, gives the same images and scores. The full
// measurement is tools/tune_style (README).
void builtin_model_shifts_toward_the_style() {
  const std::string dir = std::string(DIMBA_TEST_DATA_DIR) + "/../../../assets/builtin";
  if (!fs::exists(dir + "/builtin.manifest.json")) {
    std::printf("    skipped: no built-in model at %s\n", dir.c_str());
    return;
  }
  StyleShiftOptions o;
  o.model_dir = dir;
  o.run_dir = kDir + "/style";
  o.steps = 120;
  o.save_every = 120;
  o.seeds = 4;
  const StyleShift r = measure_style_shift(o);
  std::printf("    base %s\n    tuned %s (%.1f s)\n", r.base.json().c_str(), r.tuned.json().c_str(), r.seconds);
  CHECK(r.base_images_identical);
  CHECK(r.base_after.mean() == r.base.mean() && r.base_after.all == r.base.all);
  CHECK(r.tuned.mean() > r.base.mean() + kMinStyleShift);
}

}  // namespace

int main() {
  harness::run("image_transform", image_transform);
  harness::run("bad_input_is_refused_before_compute", bad_input_is_refused_before_compute);
  harness::run("short_lora_run_lowers_the_loss", short_lora_run_lowers_the_loss);
  harness::run("resume_continues_from_the_last_save", resume_continues_from_the_last_save);
  harness::run("full_fine_tune_saves_full_variants", full_fine_tune_saves_full_variants);
  harness::run("variants_apply_at_a_strength", variants_apply_at_a_strength);
  harness::run("builtin_model_shifts_toward_the_style", builtin_model_shifts_toward_the_style);
  fs::remove_all(kDir);
  return harness::summary();
}
