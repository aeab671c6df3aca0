// The built-in model as files and as a generator (issue 8): the training set built from the
// procedural scenes (images are the "latents": pixel space, no VAE), and text-to-image
// generation with classifier-free guidance straight from the Dimba's output pixels.
//
// A model folder (assets/builtin/) holds spiece.model, t5/{config.json, model.safetensors},
// dimba.json (the Dimba config) and dimba.safetensors.
//
//   BuiltinModel m = BuiltinModel::load("assets/builtin");
//   auto imgs = m.generate({"a red star on a blue background"}, {42}, 20, 4.0);  // (32, 32, 3) u8
// defines: kBuiltinImageSize, kBuiltinMaxLength, build_training_items, BuiltinModel
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/dimba.h"
#include "models/t5_encoder.h"
#include "text/tokenizer.h"
#include "training/train_loop.h"

namespace dimba::builtin {

constexpr int kBuiltinImageSize = 32;
constexpr int kBuiltinMaxLength = 24;  // T5 tokens (the longest caption is ~18 with </s>)

// n training scenes of `seed` with their captions, encoded by `t5`; every uncond_every-th
// scene gets the empty caption instead (the unconditional branch of guidance), attending as
// many tokens as its own caption has: at sampling the null caption runs under the prompt's
// mask (MODEL.md 2.6, as the pipeline and generate() call it). Progress goes to stderr.
std::vector<TrainItem> build_training_items(uint64_t seed, int n, int uncond_every, const Tokenizer& tok,
                                            T5Encoder& t5, int max_length);

class BuiltinModel {
 public:
  // Reads a model folder; `weights` overrides dimba.safetensors (a training snapshot).
  static BuiltinModel load(const std::string& dir, const std::string& weights = "");
  // The same parts with the Dimba weights given directly (f32 tensors by name).
  static BuiltinModel from_params(const std::string& dir, const ParamSet& params);

  // One (32, 32, 3) 8-bit image per prompt; image i starts from the noise of seeds[i].
  // Prompts run in batches of `batch`; each model call is one forward on [uncond; cond], the
  // null caption under each prompt's mask, as the pipeline does.
  std::vector<std::vector<uint8_t>> generate(const std::vector<std::string>& prompts,
                                             const std::vector<uint64_t>& seeds, int steps, double guidance,
                                             const std::string& sampler = "dpm++2m", int batch = 8);

  const DimbaConfig& config() const { return dimba_->config(); }

 private:
  BuiltinModel() = default;
  void encode(const std::vector<std::string>& prompts, std::vector<float>& y, std::vector<int>& lens);
  std::unique_ptr<Tokenizer> tok_;
  std::unique_ptr<T5Encoder> t5_;
  std::unique_ptr<DimbaModel> dimba_;
  std::shared_ptr<std::vector<float>> owned_;  // weights of from_params
};

// Reads dir/dimba.json.
DimbaConfig read_builtin_dimba_config(const std::string& dir);

}  // namespace dimba::builtin
