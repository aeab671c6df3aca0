// Golden kind "train": one training step of Dimba against the float64 reference, laid out like
// ../shared/golden/dimba-tiny.train.safetensors (README there). Files: DIR/CASE.json +
// CASE.weights.safetensors + CASE.train.safetensors, or, for a case that also has forward
// goldens (CASE.io.safetensors, which the "dimba" kind claims), name it CASE.train:
// DIR/CASE.train.safetensors with CASE.json and CASE.weights.safetensors beside it.
// Checks, per MODEL.md 7: loss.mse / loss.vb / loss.loss (per sample), grad_norm and every
// grad.<param> within 1e-4; then, from the golden gradients (the README: the same gradients
// each step), clipping to the metadata's global norm and CAME steps with its lr: the
// parameter changes dcame1.* / dcame3.* within 1e-5. Training runs in float32 whatever
// --weights says; forward and backward on the chosen backend (--backend), the loss and CAME
// on the host, where DimbaTrainer keeps the parameters on every backend.
// defines: kTrainCase
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "backend/select.h"
#include "core/error.h"
#include "core/tensor.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "sampling/schedule.h"
#include "training/dimba_train.h"
#include "training/loss.h"
#include "training/optim.h"
#include "verify/cases.h"

namespace dimba {
namespace {

bool file_exists(const std::string& p) { return std::ifstream(p).good(); }

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// The stem that names CASE.json / CASE.weights.safetensors, and the training file.
bool train_paths(const std::string& dir, const std::string& name, std::string& stem, std::string& train) {
  if (ends_with(name, ".train")) {
    stem = dir + "/" + name.substr(0, name.size() - 6);
    train = dir + "/" + name + ".safetensors";
  } else {
    stem = dir + "/" + name;
    train = stem + ".train.safetensors";
  }
  return file_exists(stem + ".json") && file_exists(stem + ".weights.safetensors") && file_exists(train);
}

bool detect_train(const std::string& dir, const std::string& name) {
  std::string stem, train;
  return train_paths(dir, name, stem, train);
}

std::vector<float> floats(const Checkpoint& ck, const std::string& key, const std::string& what) {
  const TensorEntry* e = ck.find(key);
  if (!e) throw EngineError(ErrorCode::BadFile, what + ": missing tensor " + key);
  if (!(e->dtype == DType::F32 || e->dtype == DType::F64 || e->dtype == DType::F16 || e->dtype == DType::BF16))
    throw EngineError(ErrorCode::BadFile, what + ": " + key + " is not a float tensor");
  std::vector<float> v(size_t(shape_numel(e->shape)));
  convert_to_f32(v.data(), e->data, e->dtype, v.size());
  return v;
}

std::vector<int64_t> i64s(const Checkpoint& ck, const std::string& key, const std::string& what) {
  const TensorEntry* e = ck.find(key);
  if (!e || e->dtype != DType::I64) throw EngineError(ErrorCode::BadFile, what + ": missing I64 tensor " + key);
  std::vector<int64_t> v(e->nbytes / 8);
  if (!v.empty()) std::memcpy(v.data(), e->data, e->nbytes);
  return v;
}

// "lr=1e-3" inside the optimizer metadata string, or the default.
double meta_number(const std::map<std::string, std::string>& meta, const std::string& key, const std::string& field,
                   double def) {
  auto it = meta.find(key);
  if (it == meta.end()) return def;
  const std::string& s = it->second;
  if (field.empty()) return std::strtod(s.c_str(), nullptr);
  size_t p = s.find(field + "=");
  if (p == std::string::npos) return def;
  return std::strtod(s.c_str() + p + field.size() + 1, nullptr);
}

void compare(VerifyReport& rep, const std::string& name, const std::vector<float>& got, const std::vector<float>& want,
             double tol) {
  if (got.size() != want.size()) {
    rep.lines.push_back({name + " (size mismatch)", std::numeric_limits<double>::infinity(), tol});
    return;
  }
  rep.lines.push_back(compare_line(name, got.data(), want.data(), want.size(), tol));
}

VerifyReport run_train(const std::string& dir, const std::string& name, const VerifyOptions& vopt) {
  const Backend& be = *choose_backend(vopt.backend).backend;  // throws for a named backend that is missing
  std::string stem, train;
  train_paths(dir, name, stem, train);
  const std::string cfg_path = stem + ".json";
  DimbaConfig cfg = DimbaConfig::from_json(parse_json_untrusted(read_text_file(cfg_path), cfg_path));
  Checkpoint weights = load_safetensors(stem + ".weights.safetensors");
  Checkpoint g = load_safetensors(train);

  const TensorEntry* ex = g.find("input.x0");
  const TensorEntry* ey = g.find("input.y");
  if (!ex || !ey || ex->shape.size() != 4 || ey->shape.size() != 4 || ex->shape[1] != cfg.in_channels ||
      ey->shape[0] != ex->shape[0] || ey->shape[3] != cfg.caption_channels)
    throw EngineError(ErrorCode::BadFile, train + ": input shapes do not fit the config");
  const int B = int(ex->shape[0]), Cin = int(ex->shape[1]), H = int(ex->shape[2]), W = int(ex->shape[3]);
  const int L = int(ey->shape[2]);
  std::vector<float> x0 = floats(g, "input.x0", train), noise = floats(g, "input.noise", train);
  std::vector<float> y = floats(g, "input.y", train);
  std::vector<int64_t> t = i64s(g, "input.t", train);
  if (noise.size() != x0.size() || int(t.size()) != B) throw EngineError(ErrorCode::BadFile, train + ": input sizes");
  std::vector<int> lens(size_t(B), L);
  if (g.find("input.mask")) {
    std::vector<int64_t> mask = i64s(g, "input.mask", train);
    if (mask.size() != size_t(B) * L) throw EngineError(ErrorCode::BadFile, train + ": input.mask must be [B, L]");
    lens = mask_to_lengths(mask.data(), B, L);
  }

  const DiscreteVpSchedule& sched = DiscreteVpSchedule::dimba();
  std::vector<float> xt(x0.size()), tf(t.begin(), t.end());
  iddpm_noisy_input(xt.data(), x0.data(), noise.data(), t.data(), B, int64_t(Cin) * H * W, sched);
  ParamSet params = ParamSet::from_checkpoint(weights, cfg);
  DimbaTrainer tr(cfg, params, nullptr, 1.0, be);
  std::vector<float> out(size_t(B) * cfg.out_channels * H * W), dout(out.size());
  tr.forward(out.data(), xt.data(), tf.data(), y.data(), lens.data(), B, H, W, L);
  IddpmTerms terms =
      iddpm_loss(dout.data(), out.data(), x0.data(), noise.data(), t.data(), B, Cin, int64_t(H) * W, sched);
  tr.backward(dout.data());

  VerifyReport rep;
  rep.kind = "train";
  const double tol = 1e-4, tol_came = 1e-5;
  compare(rep, "loss.mse", std::vector<float>(terms.mse.begin(), terms.mse.end()), floats(g, "loss.mse", train), tol);
  compare(rep, "loss.vb", std::vector<float>(terms.vb.begin(), terms.vb.end()), floats(g, "loss.vb", train), tol);
  compare(rep, "loss.loss", std::vector<float>(terms.loss.begin(), terms.loss.end()), floats(g, "loss.loss", train),
          tol);
  if (g.find("grad_norm"))
    compare(rep, "grad_norm", {float(grad_global_norm(tr.grads()))}, floats(g, "grad_norm", train), tol);
  ParamSet golden_grads = ParamSet::zeros_like(params);
  CameOptions opt;
  opt.lr = meta_number(g.metadata, "optimizer", "lr", 1e-3);
  Came came(params, opt);
  for (size_t i = 0; i < params.count(); ++i) {
    const std::string key = "grad." + params.names[i];
    if (!g.find(key)) {  // a parameter the step did not reach (the null caption): frozen
      came.set_trainable(params.names[i], false);
      continue;
    }
    std::vector<float> want = floats(g, key, train);
    std::vector<float> got(tr.grads().at(i), tr.grads().at(i) + tr.grads().numel(i));
    compare(rep, key, got, want, tol);
    if (want.size() == golden_grads.numel(i)) std::copy(want.begin(), want.end(), golden_grads.at(i));
  }
  for (const auto& [key, e] : g.tensors)
    if (key.rfind("grad.", 0) == 0 && !params.has(key.substr(5)))
      rep.lines.push_back({key + " (no such parameter)", std::numeric_limits<double>::infinity(), tol});

  // CAME from the golden gradients after clipping (MODEL.md 7).
  clip_grad_norm(golden_grads, meta_number(g.metadata, "clip", "", 0.05));
  ParamSet applied = ParamSet::zeros_like(params);
  for (int step = 1; step <= 3; ++step) {
    came.step(params, golden_grads, &applied);
    const std::string pre = "dcame" + std::to_string(step) + ".";
    for (size_t i = 0; i < params.count(); ++i)
      if (g.find(pre + params.names[i]))
        compare(rep, pre + params.names[i], std::vector<float>(applied.at(i), applied.at(i) + applied.numel(i)),
                floats(g, pre + params.names[i], train), tol_came);
  }
  return rep;
}

}  // namespace

extern const GoldenKind kTrainCase;
const GoldenKind kTrainCase = {"train",
                               "CASE.json + CASE.weights.safetensors + CASE.train.safetensors (or CASE.train names "
                               "the training file beside STEM.json + STEM.weights.safetensors)",
                               detect_train, run_train};

}  // namespace dimba
