// tune_style: issue 12's acceptance measurement. Tunes the built-in model (LoRA) on images of
// one style (green stars on black, various sizes and positions, neutral captions) through the
// engine's tuning run, and scores with the built-in checker the style share of samples for
// neutral prompts the training never saw: the base model's (before and again after, from the
// untouched base files) and the tuned model's at each save.
//   tune_style --model assets/builtin [--run DIR] [--steps N] [--images N] [--save-every N]
//              [--rank R] [--lr X] [--batch B] [--seeds N] [--sample-steps N]
// Prints one JSON line per checkpoint, then a summary line {"base":..,"base_after":..,
// "tuned":..,"shift":..}. Exit: 0 ok, 2 usage, 3 engine error.
// defines: main
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "builtin/scenes.h"
#include "core/error.h"
#include "pipeline/manifest.h"
#include "pipeline/text_to_image.h"
#include "tuning/style_score.h"
#include "tuning/tuning_run.h"

using namespace dimba;
namespace fs = std::filesystem;

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

std::map<std::string, std::string> parse(int argc, char** argv) {
  std::map<std::string, std::string> kv;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strncmp(argv[i], "--", 2) != 0) throw EngineError(ErrorCode::InvalidArgument, "bad argument " + std::string(argv[i]));
    kv[argv[i] + 2] = argv[i + 1];
  }
  return kv;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    auto kv = parse(argc, argv);
    auto num = [&](const char* k, double d) { return kv.count(k) ? std::atof(kv[k].c_str()) : d; };
    if (!kv.count("model")) throw EngineError(ErrorCode::InvalidArgument, "--model DIR is required");
    const std::string run = kv.count("run") ? kv["run"] : "/tmp/dimba-tune-style-" + std::to_string(::getpid());
    fs::remove_all(run);
    fs::create_directories(run);
    const std::string manifest = kv["model"] + "/builtin.manifest.json";

    const int n_images = int(num("images", 24)), n_seeds = int(num("seeds", 4));
    std::vector<TuningImage> images;
    for (int i = 0; i < n_images; ++i) {  // 40 px renders: the run resizes them to 32
      builtin::Scene s = builtin::sample_scene(77, uint64_t(i));
      s.shape = 3, s.colour = 3, s.background = 7;
      images.push_back({to_rgb8(builtin::render_scene(s, 40), 40), 40, 40, kTrainCaptions[size_t(i) % kTrainCaptions.size()]});
    }
    TuningOptions o;
    o.manifest = manifest;
    o.run_dir = run + "/run";
    o.train.steps = int64_t(num("steps", 200));
    o.train.batch_size = int(num("batch", 8));
    o.train.lr = num("lr", 2e-3);
    o.train.warmup_steps = 10;
    o.train.optimizer = TrainOptions::Optimizer::AdamW;
    o.train.clip_norm = 1.0;
    o.train.use_lora = true;
    o.train.lora.rank = int(num("rank", 8));
    o.train.lora.alpha = o.train.lora.rank;
    o.train.save_every = int64_t(num("save-every", 50));
    o.train.seed = 1;
    o.preview_steps = int(num("sample-steps", 20));
    for (const std::string& p : kNeutralPrompts)
      for (int s = 0; s < n_seeds; ++s) {
        o.preview_prompts.push_back(p);
        o.preview_seeds.push_back(uint64_t(1000 + s));
      }
    const Style style;
    StyleScore base, tuned;
    std::vector<TuningSample> base_samples;
    TuningHooks h;
    h.on_base_samples = [&](const std::vector<TuningSample>& s) {
      base_samples = s;
      base = score_style(s, style);
    };
    h.on_checkpoint = [&](const TuningCheckpoint& c) {
      tuned = score_style(c.samples, style);
      std::printf("{\"step\":%lld,\"train_loss\":%.5f,\"validation_loss\":%.5f,\"score\":%s}\n", (long long)c.step,
                  c.train_loss, c.validation_loss, tuned.json().c_str());
      std::fflush(stdout);
    };
    const auto t0 = std::chrono::steady_clock::now();
    TuningResult r = run_tuning(images, o, h);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // The base model again, from its untouched files: the same images, so the same scores.
    Pipeline p = Pipeline::load(load_manifest(manifest), {DType::F32});
    std::vector<TuningSample> again;
    Recipe rec = p.default_recipe();
    rec.steps = o.preview_steps;
    for (size_t i = 0; i < o.preview_prompts.size(); ++i) {
      rec.prompt = o.preview_prompts[i];
      rec.seed = o.preview_seeds[i];
      GeneratedImage im = p.generate(rec).images.at(0);
      again.push_back({rec.prompt, rec.seed, im.width, im.height, im.rgb});
    }
    bool identical = again.size() == base_samples.size();
    for (size_t i = 0; identical && i < again.size(); ++i) identical = again[i].rgb == base_samples[i].rgb;
    std::printf("{\"steps\":%lld,\"seconds\":%.1f,\"base\":%s,\"base_after\":%s,\"base_images_identical\":%s,"
                "\"tuned\":%s,\"shift_all\":%.4f,\"validation_start\":%.5f}\n",
                (long long)r.step, secs, base.json().c_str(), score_style(again, style).json().c_str(),
                identical ? "true" : "false", tuned.json().c_str(), tuned.all - base.all, r.start_validation_loss);
    if (!kv.count("run")) fs::remove_all(run);
    return 0;
  } catch (const EngineError& e) {
    std::fprintf(stderr, "tune_style: %s: %s\n", error_code_name(e.code), e.what());
    return e.code == ErrorCode::InvalidArgument ? 2 : 3;
  }
}
