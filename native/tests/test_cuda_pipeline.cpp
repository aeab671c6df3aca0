// The text-to-image pipeline on the CUDA backend, with the built-in model (assets/builtin):
// the denoising forward replayed from a CUDA graph (pipeline/graphed_forward.h) gives the
// plain forward's pixels exactly, for every image of a count (each image captures its own
// graph), and the CUDA pipeline's pixels match the CPU's in the exact mode (f32 weights).
// Exits 77 (ctest: skipped) with the reason when the engine was built without CUDA or no
// device exists; DIMBA_REQUIRE_CUDA=1 makes that a failure. Runs on the CPU emulator in every
// build without the real backend (native/tests/cuda_emu).
// defines: main (test_cuda_pipeline)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "backend/cuda/cuda_backend.h"
#include "harness.h"
#include "pipeline/manifest.h"
#include "pipeline/text_to_image.h"

using namespace dimba;

namespace {

const std::string kModel = std::string(DIMBA_TEST_DATA_DIR) + "/../../../assets/builtin/builtin.manifest.json";

GenerateResult generate(const std::string& backend, bool graphs) {
  PipelineOptions o;
  o.backend = backend;
  o.weights = DType::F32;
  o.cuda_graphs = graphs;
  Pipeline p = Pipeline::load(load_manifest(kModel), o);
  Recipe r = p.default_recipe();
  r.prompt = "a red star on a blue background";
  r.seed = 11;
  r.count = 2;
  r.steps = 4;
  return p.generate(r);
}

// Largest difference of two images' 8-bit values.
int max_diff(const GeneratedImage& a, const GeneratedImage& b) {
  int d = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) d = std::max(d, std::abs(int(a.rgb[i]) - int(b.rgb[i])));
  return d;
}

void graphs_give_the_plain_forwards_pixels() {
  const bool was = cuda_set_reduced_precision(false);
  const GenerateResult graphed = generate("cuda", true), plain = generate("cuda", false), cpu = generate("cpu", false);
  cuda_set_reduced_precision(was);
  CHECK(graphed.images.size() == 2 && plain.images.size() == 2 && cpu.images.size() == 2);
  for (size_t k = 0; k < graphed.images.size(); ++k) {
    const bool same = graphed.images[k].rgb == plain.images[k].rgb;
    const int d = max_diff(plain.images[k], cpu.images[k]);
    std::printf("    image %zu: graph %s plain; cuda vs cpu max |diff| %d of 255\n", k, same ? "==" : "!=", d);
    CHECK(same);
    CHECK(d <= 1);  // f32 on both, 1e-5 apart per op: at most a rounding step of the 8-bit output
  }
}

}  // namespace

int main() {
  int skip = 0;
  if (!harness::backend_or_skip("test_cuda_pipeline", "DIMBA_REQUIRE_CUDA", cuda_backend, &skip)) return skip;
  if (!std::filesystem::exists(kModel)) {
    std::printf("FAIL: no built-in model at %s\n", kModel.c_str());
    return 1;
  }
  harness::run("graphs_give_the_plain_forwards_pixels", graphs_give_the_plain_forwards_pixels);
  return harness::summary();
}
