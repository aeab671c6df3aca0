// The built-in model's training items and generator (model.h).
#include "builtin/model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "builtin/scenes.h"
#include "core/error.h"
#include "core/rng.h"
#include "io/checkpoint.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "sampling/cfg.h"
#include "sampling/sampler.h"
#include "sampling/schedule.h"

namespace dimba::builtin {

std::vector<TrainItem> build_training_items(uint64_t seed, int n, int uncond_every, const Tokenizer& tok,
                                            T5Encoder& t5, int max_length) {
  if (n < 1) throw EngineError(ErrorCode::InvalidArgument, "build_training_items: n must be >= 1");
  const int D = t5.config().d_model, L = max_length, S = kBuiltinImageSize;
  std::vector<TrainItem> items;
  items.reserve(size_t(n) + (uncond_every > 0 ? size_t(n / uncond_every) + 1 : 0));
  constexpr int kChunk = 64;
  std::vector<int32_t> ids(size_t(kChunk) * L), mask(size_t(kChunk) * L);
  std::vector<float> out(size_t(kChunk) * L * D);
  const T5Tokens empty = tok.encode_t5("", L);
  std::vector<int> lens(static_cast<size_t>(kChunk));
  for (int base = 0; base < n; base += kChunk) {
    const int B = std::min(kChunk, n - base);
    std::vector<Scene> scenes(static_cast<size_t>(B));
    for (int b = 0; b < B; ++b) {
      scenes[size_t(b)] = sample_scene(seed, uint64_t(base + b));
      const bool uncond = uncond_every > 0 && (base + b) % uncond_every == uncond_every - 1;
      const T5Tokens c = tok.encode_t5(caption_scene(scenes[size_t(b)], seed, uint64_t(base + b)), L);
      const T5Tokens& t = uncond ? empty : c;
      std::copy(t.ids.begin(), t.ids.end(), ids.begin() + long(b) * L);
      std::copy(t.mask.begin(), t.mask.end(), mask.begin() + long(b) * L);
      // The null caption attends as many tokens as the caption it replaces: how guidance calls
      // the model (the pipeline's MODEL.md 2.6 quirk, and generate() below).
      lens[size_t(b)] = 0;
      for (int32_t v : c.mask) lens[size_t(b)] += v != 0;
    }
    t5.forward(out.data(), ids.data(), mask.data(), B, L);
    for (int b = 0; b < B; ++b) {
      TrainItem it;
      it.latent = render_scene(scenes[size_t(b)], S);
      it.height = it.width = S;
      it.text.assign(out.begin() + long(b) * L * D, out.begin() + long(b + 1) * L * D);
      it.text_len = lens[size_t(b)];
      items.push_back(std::move(it));
    }
    if ((base / kChunk) % 40 == 0) std::fprintf(stderr, "dataset: %d / %d\n", base + B, n);
  }
  return items;
}

DimbaConfig read_builtin_dimba_config(const std::string& dir) {
  const std::string p = dir + "/dimba.json";
  std::ifstream in(p, std::ios::binary);
  if (!in) throw EngineError(ErrorCode::Io, "cannot read " + p);
  std::stringstream ss;
  ss << in.rdbuf();
  return DimbaConfig::from_json(parse_json_untrusted(ss.str(), p));
}

namespace {
void load_text_side(const std::string& dir, std::unique_ptr<Tokenizer>& tok, std::unique_ptr<T5Encoder>& t5) {
  tok = std::make_unique<Tokenizer>(Tokenizer::load(dir + "/spiece.model"));
  t5 = std::make_unique<T5Encoder>(T5Encoder::load_pretrained(dir + "/t5", T5WeightFormat::F32));
}
}  // namespace

BuiltinModel BuiltinModel::load(const std::string& dir, const std::string& weights) {
  BuiltinModel m;
  load_text_side(dir, m.tok_, m.t5_);
  const DimbaConfig cfg = read_builtin_dimba_config(dir);
  m.dimba_ = std::make_unique<DimbaModel>(
      DimbaModel::load_file(weights.empty() ? dir + "/dimba.safetensors" : weights, cfg, DType::F32));
  return m;
}

BuiltinModel BuiltinModel::from_params(const std::string& dir, const ParamSet& params) {
  BuiltinModel m;
  load_text_side(dir, m.tok_, m.t5_);
  const DimbaConfig cfg = read_builtin_dimba_config(dir);
  // Wrap the ParamSet as a checkpoint: DimbaModel::load converts what it needs.
  std::map<std::string, TensorToSave> t;
  for (size_t i = 0; i < params.count(); ++i) t[params.names[i]] = {DType::F32, params.shapes[i], params.at(i)};
  const std::string tmp = dir + "/.from_params.safetensors";
  save_safetensors(tmp, t);
  m.dimba_ = std::make_unique<DimbaModel>(DimbaModel::load_file(tmp, cfg, DType::F32));
  std::remove(tmp.c_str());
  return m;
}

void BuiltinModel::encode(const std::vector<std::string>& prompts, std::vector<float>& y, std::vector<int>& lens) {
  const int L = dimba_->config().model_max_length, D = t5_->config().d_model, B = int(prompts.size());
  std::vector<int32_t> ids(size_t(B) * L), mask(size_t(B) * L);
  lens.assign(size_t(B), 0);
  for (int b = 0; b < B; ++b) {
    const T5Tokens t = tok_->encode_t5(prompts[size_t(b)], L);
    std::copy(t.ids.begin(), t.ids.end(), ids.begin() + long(b) * L);
    std::copy(t.mask.begin(), t.mask.end(), mask.begin() + long(b) * L);
    for (int32_t v : t.mask) lens[size_t(b)] += v != 0;
  }
  y.assign(size_t(B) * L * D, 0.f);
  t5_->forward(y.data(), ids.data(), mask.data(), B, L);
}

std::vector<std::vector<uint8_t>> BuiltinModel::generate(const std::vector<std::string>& prompts,
                                                         const std::vector<uint64_t>& seeds, int steps,
                                                         double guidance, const std::string& sampler, int batch) {
  if (prompts.size() != seeds.size())
    throw EngineError(ErrorCode::InvalidArgument, "generate: one seed per prompt");
  if (batch < 1) throw EngineError(ErrorCode::InvalidArgument, "generate: batch must be >= 1");
  const SamplerKind kind = parse_sampler_kind(sampler);
  check_guidance(guidance);
  const DiscreteVpSchedule& sch = DiscreteVpSchedule::dimba();
  check_steps(steps, sch);
  const DimbaConfig& cfg = dimba_->config();
  const int S = kBuiltinImageSize, L = cfg.model_max_length, Ccap = cfg.caption_channels;
  const size_t in_per = size_t(cfg.in_channels) * S * S, out_per = size_t(cfg.out_channels) * S * S;
  std::vector<std::vector<uint8_t>> images;
  for (size_t base = 0; base < prompts.size(); base += size_t(batch)) {
    const int B = int(std::min(prompts.size() - base, size_t(batch)));
    std::vector<std::string> ps(prompts.begin() + long(base), prompts.begin() + long(base) + B);
    std::vector<std::string> all(size_t(B), "");
    all.insert(all.end(), ps.begin(), ps.end());  // [uncond; cond]
    std::vector<float> y;
    std::vector<int> lens;
    encode(all, y, lens);
    (void)Ccap;
    for (int b = 0; b < B; ++b) lens[size_t(b)] = lens[size_t(B + b)];  // the null caption under the prompt's mask
    std::vector<double> x(size_t(B) * in_per);
    std::vector<float> noise(in_per);
    for (int b = 0; b < B; ++b) {
      fill_normal(noise.data(), in_per, seeds[base + size_t(b)], 0);
      std::copy(noise.begin(), noise.end(), x.begin() + long(size_t(b) * in_per));
    }
    GuidedModelFn<float> fn = [&](const std::vector<float>& in2, double t_input, std::vector<float>& out2) {
      std::vector<float> t(size_t(2 * B), float(t_input));
      out2.resize(size_t(2 * B) * out_per);
      dimba_->forward(out2.data(), in2.data(), t.data(), y.data(), lens.data(), 2 * B, S, S, L);
    };
    SamplerHooks hooks;
    hooks.denoise = make_cfg_denoiser<float>(fn, B, in_per, out_per, guidance);
    run_sampler(kind, sch, steps, x, hooks);
    for (int b = 0; b < B; ++b) {
      std::vector<uint8_t> rgb(size_t(S) * S * 3);
      for (int c = 0; c < 3; ++c)
        for (int i = 0; i < S * S; ++i) {
          const double v = std::clamp(x[size_t(b) * in_per + size_t(c) * S * S + size_t(i)], -1.0, 1.0);
          rgb[size_t(i) * 3 + size_t(c)] = uint8_t(std::lround((v + 1.0) * 127.5));
        }
      images.push_back(std::move(rgb));
    }
  }
  return images;
}

}  // namespace dimba::builtin
