// Model variants made by tuning: a LoRA adapter (training/lora.h, metadata format dimba-lora)
// or a full fine-tune's weights (format dimba-full-variant), applied to a base model's f32
// weights at a strength, and a DimbaModel built from weights held in memory.
//   LoRA:  W += strength * (alpha / r) * B @ A
//   full:  W += strength * (W_tuned - W)   (strength 1: the tuned weights, 0: the base)
// defines: kFullVariantFormat, save_full_variant, apply_variant, dimba_from_params
#pragma once
#include <string>

#include "backend/backend.h"
#include "core/dtype.h"
#include "models/dimba.h"
#include "training/dimba_train.h"

namespace dimba {

inline constexpr const char* kFullVariantFormat = "dimba-full-variant";

// Every tensor of `tuned` (f32) with metadata format=dimba-full-variant and `step`. Atomic.
void save_full_variant(const std::string& path, const ParamSet& tuned, int64_t step);

// Applies the variant file at `path` to `params` in place. Throws BadFile for a file that is
// neither kind, ModelMismatch when its tensors do not fit `params`, InvalidArgument for a
// strength outside [0, 2] or not finite.
void apply_variant(ParamSet& params, const std::string& path, double strength);

// A DimbaModel whose weights are a copy of `params` (converted to `dtype`).
DimbaModel dimba_from_params(const ParamSet& params, const DimbaConfig& cfg, DType dtype,
                             const Backend& backend = cpu_backend());

}  // namespace dimba
