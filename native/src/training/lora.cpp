// LoRA adapters (see lora.h): creation over a model's Linear weights, safetensors
// save/load with the metadata that makes a file self-describing, and merging.
// defines: lora_default_targets, Lora members
#include "training/lora.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "backend/cpu/gemm.h"
#include "core/error.h"
#include "core/rng.h"
#include "io/safetensors.h"

namespace dimba {
namespace {

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + v[i];
  return s;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t a = 0;
  while (a <= s.size()) {
    size_t b = s.find(',', a);
    if (b == std::string::npos) b = s.size();
    if (b > a) out.push_back(s.substr(a, b - a));
    a = b + 1;
  }
  return out;
}

// A ParamSet laid out for the adapters of `bases` with shapes from `shapes` ([out, in] each).
ParamSet adapter_layout(const std::vector<std::string>& bases, const std::vector<std::vector<int64_t>>& shapes, int r) {
  ParamSet p;
  size_t off = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    p.index[name] = p.names.size();
    p.names.push_back(name);
    p.shapes.push_back(shape);
    p.offsets.push_back(off);
    off += size_t(shape[0] * shape[1]);
  };
  for (size_t i = 0; i < bases.size(); ++i) {
    add(bases[i] + ".lora_A", {r, shapes[i][1]});
    add(bases[i] + ".lora_B", {shapes[i][0], r});
  }
  p.data.assign(off, 0.0f);
  return p;
}

}  // namespace

const std::vector<std::string>& lora_default_targets() {
  static const std::vector<std::string> t = {"attn.qkv", "attn.proj", "cross_attn.q_linear", "cross_attn.kv_linear",
                                             "cross_attn.proj", "mlp.fc1", "mlp.fc2", "mixer.in_proj",
                                             "mixer.out_proj"};
  return t;
}

Lora Lora::create(const ParamSet& params, const LoraConfig& cfg, uint64_t seed) {
  if (cfg.rank < 1 || cfg.rank > 4096) throw EngineError(ErrorCode::InvalidArgument, "LoRA: rank must be 1..4096");
  const auto& known = lora_default_targets();
  for (const std::string& t : cfg.targets)
    if (std::find(known.begin(), known.end(), t) == known.end())
      throw EngineError(ErrorCode::InvalidArgument, "LoRA: unknown target " + t + " (known: " + join(known) + ")");
  Lora l;
  l.cfg = cfg;
  std::vector<std::vector<int64_t>> shapes;
  for (size_t i = 0; i < params.count(); ++i) {
    const std::string& n = params.names[i];
    if (params.shapes[i].size() != 2) continue;
    for (const std::string& t : cfg.targets)
      if (ends_with(n, "." + t + ".weight")) {
        l.bases.push_back(n);
        shapes.push_back(params.shapes[i]);
        break;
      }
  }
  if (l.bases.empty()) throw EngineError(ErrorCode::InvalidArgument, "LoRA: no Linear weight matches the targets");
  l.tensors = adapter_layout(l.bases, shapes, cfg.rank);
  uint64_t offset = 0;
  for (size_t i = 0; i < l.bases.size(); ++i) {
    float* a = l.tensors.get(l.bases[i] + ".lora_A");
    const size_t n = size_t(cfg.rank) * size_t(shapes[i][1]);
    fill_normal(a, n, seed, offset);
    offset += n;
    const float sd = float(1.0 / std::sqrt(double(shapes[i][1])));
    for (size_t k = 0; k < n; ++k) a[k] *= sd;
  }
  l.grads = ParamSet::zeros_like(l.tensors);
  return l;
}

const float* Lora::A(const std::string& base) const {
  return tensors.has(base + ".lora_A") ? tensors.get(base + ".lora_A") : nullptr;
}
const float* Lora::B(const std::string& base) const {
  return tensors.has(base + ".lora_B") ? tensors.get(base + ".lora_B") : nullptr;
}

void Lora::save(const std::string& path) const {
  std::map<std::string, TensorToSave> t;
  for (size_t i = 0; i < tensors.count(); ++i) t[tensors.names[i]] = {DType::F32, tensors.shapes[i], tensors.at(i)};
  char alpha[64];
  std::snprintf(alpha, sizeof alpha, "%.17g", cfg.alpha);
  save_safetensors(path, t,
                   {{"format", "dimba-lora"},
                    {"rank", std::to_string(cfg.rank)},
                    {"alpha", alpha},
                    {"targets", join(cfg.targets)}});
}

Lora Lora::load(const std::string& path) {
  Checkpoint ck = load_safetensors(path);
  auto bad = [&](const std::string& m) { throw EngineError(ErrorCode::BadFile, path + ": " + m); };
  auto meta = [&](const char* k) {
    auto it = ck.metadata.find(k);
    if (it == ck.metadata.end()) bad(std::string("no '") + k + "' in the metadata: not a Dimba LoRA");
    return it->second;
  };
  if (meta("format") != "dimba-lora") bad("metadata format is not dimba-lora");
  Lora l;
  l.cfg.rank = std::atoi(meta("rank").c_str());
  l.cfg.alpha = std::strtod(meta("alpha").c_str(), nullptr);
  l.cfg.targets = split(meta("targets"));
  if (l.cfg.rank < 1 || !(l.cfg.alpha > 0.0) || !std::isfinite(l.cfg.alpha)) bad("bad rank or alpha");
  std::vector<std::vector<int64_t>> shapes;
  for (const auto& [name, e] : ck.tensors) {
    if (!ends_with(name, ".lora_A")) {
      if (!ends_with(name, ".lora_B")) bad("unexpected tensor " + name);
      continue;
    }
    const std::string base = name.substr(0, name.size() - 7);
    const TensorEntry* b = ck.find(base + ".lora_B");
    if (!b) bad("missing " + base + ".lora_B");
    if (e.shape.size() != 2 || b->shape.size() != 2 || e.shape[0] != l.cfg.rank || b->shape[1] != l.cfg.rank)
      bad("adapter " + base + " does not have rank " + std::to_string(l.cfg.rank));
    l.bases.push_back(base);
    shapes.push_back({b->shape[0], e.shape[1]});
  }
  if (l.bases.empty()) bad("no adapters");
  l.tensors = adapter_layout(l.bases, shapes, l.cfg.rank);
  for (size_t i = 0; i < l.tensors.count(); ++i) {
    const TensorEntry* e = ck.find(l.tensors.names[i]);
    if (!(e->dtype == DType::F32 || e->dtype == DType::F16 || e->dtype == DType::BF16))
      bad(l.tensors.names[i] + " is not a float tensor");
    convert_to_f32(l.tensors.at(i), e->data, e->dtype, l.tensors.numel(i));
  }
  l.grads = ParamSet::zeros_like(l.tensors);
  return l;
}

void Lora::merge_into(ParamSet& params, double strength) const {
  std::string problems;
  for (size_t i = 0; i < bases.size(); ++i) {
    const std::vector<int64_t>& sa = tensors.shapes[tensors.index.at(bases[i] + ".lora_A")];
    const std::vector<int64_t>& sb = tensors.shapes[tensors.index.at(bases[i] + ".lora_B")];
    if (!params.has(bases[i]) || params.shapes[params.index.at(bases[i])] != std::vector<int64_t>{sb[0], sa[1]}) {
      problems += "\n  " + bases[i];
      continue;
    }
    // W[out, in] += s * B[out, r] @ A[r, in]
    cpu::sgemm(false, false, int(sb[0]), int(sa[1]), cfg.rank, float(strength * scale()), B(bases[i]), cfg.rank,
               A(bases[i]), int(sa[1]), 1.0f, params.get(bases[i]), int(sa[1]));
  }
  if (!problems.empty())
    throw EngineError(ErrorCode::ModelMismatch, "LoRA does not fit the model's weights:" + problems);
}

}  // namespace dimba
