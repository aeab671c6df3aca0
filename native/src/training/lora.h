// LoRA for Dimba: rank-r adapters on chosen Linear layers, the base weights frozen. The
// adapted weight is W + (alpha / r) * strength * B @ A with A [r, in], B [out, r]. Saved as
// safetensors whose tensor names say which base tensor each adapts
// ("blocks.0.attn.qkv.weight.lora_A", "...lora_B"), with rank, alpha and targets in the
// metadata. At inference it is applied either unmerged (DimbaTrainer::forward with the LoRA
// attached: y = x W^T + s (x A^T) B^T) or merged into a copy of the weights (merge_into).
// defines: LoraConfig, Lora, lora_default_targets
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "training/dimba_train.h"

namespace dimba {

// attn.qkv, attn.proj, cross_attn.q_linear, cross_attn.kv_linear, cross_attn.proj, mlp.fc1,
// mlp.fc2, mixer.in_proj, mixer.out_proj (the Linear layers of the blocks).
const std::vector<std::string>& lora_default_targets();

struct LoraConfig {
  int rank = 16;
  double alpha = 16.0;
  std::vector<std::string> targets = lora_default_targets();
};

struct Lora {
  LoraConfig cfg;
  std::vector<std::string> bases;  // adapted base tensors, e.g. "blocks.0.attn.qkv.weight"
  ParamSet tensors;                // "<base>.lora_A" (r, in), "<base>.lora_B" (out, r)
  ParamSet grads;                  // same layout

  double scale() const { return cfg.alpha / cfg.rank; }
  // Adapters on every base Linear weight of `params` matching a target (a name ending in
  // "." + target + ".weight"); A ~ N(0, 1/in) from the engine RNG (seeded), B = 0, so the
  // adapted model starts equal to the base. Throws InvalidArgument for an unknown target,
  // rank < 1 or no match.
  static Lora create(const ParamSet& params, const LoraConfig& cfg, uint64_t seed);
  // safetensors with metadata format=dimba-lora, rank, alpha, targets (comma separated).
  void save(const std::string& path) const;
  // Throws EngineError(BadFile) for a file that is not a Dimba LoRA or is inconsistent.
  static Lora load(const std::string& path);
  // The adapter of `base` (its A and B), or nulls.
  const float* A(const std::string& base) const;
  const float* B(const std::string& base) const;
  // params[base] += strength * scale * B @ A for every adapter. Throws ModelMismatch when a
  // base tensor is missing or its shape differs.
  void merge_into(ParamSet& params, double strength) const;
};

}  // namespace dimba
