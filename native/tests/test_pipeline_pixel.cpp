// The pipeline's pixel-space models (a manifest with "vae": null, the built-in model's kind):
// the manifest rules, a load and a generate that must give the image BuiltinModel::generate
// gives for the same prompt and seed (the same noise, the null caption under the prompt's
// mask, guidance, DPM-Solver++), the size multiple, and the typed refusals.
// defines: main (test_pipeline_pixel)
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "builtin/model.h"
#include "builtin/text.h"
#include "core/rng.h"
#include "harness.h"
#include "io/safetensors.h"
#include "pipeline/manifest.h"
#include "pipeline/text_to_image.h"

using namespace dimba;
using namespace dimba::builtin;

namespace {

const std::string kDir = "/tmp/dimba-test-pixel-" + std::to_string(::getpid());

std::string manifest_text(const std::string& vae, int resolution) {
  return "{\"format\": \"dimba-model-manifest\", \"version\": 1, \"id\": \"pixel-test\", \"resolution\": " +
         std::to_string(resolution) +
         ", \"dimba\": {\"config\": \"dimba.json\", \"weights\": \"dimba.safetensors\"},"
         " \"text_encoder\": {\"folder\": \"t5\", \"tokenizer\": \"spiece.model\"}, \"vae\": " +
         vae + ", \"defaults\": {\"steps\": 8, \"guidance\": 4.0, \"width\": 32, \"height\": 32}}";
}

// A built-in-shaped model folder with random weights (nothing left at zero, so that the
// prompt changes the image) and a manifest.
void write_model(int in_channels) {
  DimbaConfig cfg = builtin_dimba_config(64, kBuiltinMaxLength, 4, 32);
  cfg.in_channels = in_channels;
  cfg.out_channels = 2 * in_channels;
  write_builtin_parts(kDir, 9, cfg);
  ParamSet p = builtin_dimba_init(cfg, 10);
  for (size_t i = 0; i < p.count(); ++i) {
    std::vector<float> r(p.numel(i));
    fill_normal(r.data(), r.size(), 13, i * 7919);
    for (size_t k = 0; k < r.size(); ++k)
      if (p.at(i)[k] == 0.f) p.at(i)[k] = 0.05f * r[k];
  }
  std::map<std::string, TensorToSave> t;
  for (size_t i = 0; i < p.count(); ++i) t[p.names[i]] = {DType::F32, p.shapes[i], p.at(i)};
  save_safetensors(kDir + "/dimba.safetensors", t);
  std::ofstream(kDir + "/model.json") << manifest_text("null", 32);
}

void remove_model() {
  for (const char* f : {"/t5/model.safetensors", "/t5/config.json", "/spiece.model", "/dimba.json",
                        "/dimba.safetensors", "/model.json"})
    std::remove((kDir + f).c_str());
  ::rmdir((kDir + "/t5").c_str());
  ::rmdir(kDir.c_str());
}

void manifest_rules() {
  const ModelManifest m = parse_manifest(manifest_text("null", 32), "/x", "test", false);
  CHECK(m.pixel_space && m.vae_folder.empty() && m.resolution == 32);
  // A latent model keeps its VAE and its 64 px floor; a pixel one may be as small as 8.
  CHECK(!parse_manifest(manifest_text("{\"folder\": \"vae\"}", 512), "/x", "test", false).pixel_space);
  CHECK_THROWS_CODE(parse_manifest(manifest_text("{\"folder\": \"vae\"}", 32), "/x", "test", false), ErrorCode::BadFile);
  CHECK_THROWS_CODE(parse_manifest(manifest_text("null", 4), "/x", "test", false), ErrorCode::BadFile);
  CHECK_THROWS_CODE(parse_manifest(manifest_text("3", 32), "/x", "test", false), ErrorCode::BadFile);
}

void generates_what_the_builtin_generator_does() {
  write_model(3);
  PipelineOptions opt;
  opt.weights = DType::F32;
  Pipeline p = Pipeline::load(load_manifest(kDir + "/model.json"), opt);
  CHECK(p.limits().size_multiple == 4);  // the patch: no VAE downscale
  Recipe r = p.default_recipe();
  CHECK(r.width == 32 && r.height == 32 && r.steps == 8);
  r.prompt = "a red star on a blue background";
  r.seed = 7;
  r.count = 2;
  r.preview_every = 4;
  int previews = 0;
  GenerateHooks hooks;
  hooks.on_progress = [&](const GenerateProgress& g) {
    if (g.preview) {
      ++previews;
      CHECK(g.preview->width == 32 && g.preview->height == 32 && g.preview->rgb.size() == 32 * 32 * 3);
    }
    return StepAction::Continue;
  };
  const GenerateResult got = p.generate(r, hooks);
  CHECK(previews == 4);  // 2 images x steps 4 and 8
  CHECK(got.images.size() == 2 && got.images[0].width == 32 && got.images[0].rgb.size() == 32 * 32 * 3);
  BuiltinModel bm = BuiltinModel::load(kDir);
  const auto want = bm.generate({r.prompt, r.prompt}, {7, 8}, r.steps, r.guidance, r.sampler, 1);
  int worst = 0, differ = 0;
  for (int k = 0; k < 2; ++k)
    for (size_t i = 0; i < want[size_t(k)].size(); ++i) {
      const int d = std::abs(int(got.images[size_t(k)].rgb[i]) - int(want[size_t(k)][i]));
      worst = std::max(worst, d);
      differ += d != 0;
    }
  std::printf("    pipeline vs BuiltinModel: worst %d / 255, %d values differ\n", worst, differ);
  CHECK(worst <= 1);  // the same floats; the two round to 8 bits separately
  int changed = 0;    // and the images are not constant: the seed shows
  for (size_t i = 0; i < want[0].size(); ++i) changed += got.images[0].rgb[i] != got.images[1].rgb[i];
  CHECK(changed > 100);
  remove_model();
}

void latent_channels_without_vae_are_refused() {
  write_model(4);
  CHECK_THROWS_CODE(Pipeline::load(load_manifest(kDir + "/model.json")), ErrorCode::ModelMismatch);
  remove_model();
}

}  // namespace

int main() {
  harness::run("manifest_rules", manifest_rules);
  harness::run("generates_what_the_builtin_generator_does", generates_what_the_builtin_generator_does);
  harness::run("latent_channels_without_vae_are_refused", latent_channels_without_vae_are_refused);
  return harness::summary();
}
