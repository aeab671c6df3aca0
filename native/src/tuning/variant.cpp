// Model variants: saving a full fine-tune, applying either kind, models from memory (variant.h).
// defines: save_full_variant, apply_variant, dimba_from_params
#include "tuning/variant.h"

#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "core/error.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "training/lora.h"

namespace dimba {

void save_full_variant(const std::string& path, const ParamSet& tuned, int64_t step) {
  std::map<std::string, TensorToSave> t;
  for (size_t i = 0; i < tuned.count(); ++i) t[tuned.names[i]] = {DType::F32, tuned.shapes[i], tuned.at(i)};
  save_safetensors(path, t, {{"format", kFullVariantFormat}, {"step", std::to_string(step)}});
}

void apply_variant(ParamSet& params, const std::string& path, double strength) {
  if (!std::isfinite(strength) || strength < 0.0 || strength > 2.0)
    throw EngineError(ErrorCode::InvalidArgument, "variant strength must be in [0, 2]");
  Checkpoint ck = load_safetensors(path);
  auto fmt = ck.metadata.find("format");
  if (fmt != ck.metadata.end() && fmt->second == "dimba-lora") {
    ck = Checkpoint{};  // Lora::load reads it again with its own validation
    Lora::load(path).merge_into(params, strength);
    return;
  }
  if (fmt == ck.metadata.end() || fmt->second != kFullVariantFormat)
    throw EngineError(ErrorCode::BadFile, path + ": not a Dimba variant (neither dimba-lora nor " +
                                              std::string(kFullVariantFormat) + ")");
  std::string missing;
  for (size_t i = 0; i < params.count(); ++i) {
    const TensorEntry* e = ck.find(params.names[i]);
    if (!e || e->dtype != DType::F32 || e->shape != params.shapes[i]) missing += " " + params.names[i];
  }
  if (!missing.empty()) throw EngineError(ErrorCode::ModelMismatch, path + ": missing or mis-shaped:" + missing);
  for (size_t i = 0; i < params.count(); ++i) {
    const float* tuned = reinterpret_cast<const float*>(ck.find(params.names[i])->data);
    float* w = params.at(i);
    // In double: strength 1 gives the tuned weights exactly, 0 the base.
    for (size_t k = 0, n = params.numel(i); k < n; ++k)
      w[k] = float(double(w[k]) + strength * (double(tuned[k]) - double(w[k])));
  }
}

DimbaModel dimba_from_params(const ParamSet& params, const DimbaConfig& cfg, DType dtype, const Backend& backend) {
  auto data = std::make_shared<std::vector<float>>(params.data);
  Checkpoint ck;
  ck.storage.push_back(data);
  for (size_t i = 0; i < params.count(); ++i)
    ck.tensors[params.names[i]] = {DType::F32, params.shapes[i],
                                   reinterpret_cast<const uint8_t*>(data->data() + params.offsets[i]),
                                   params.numel(i) * sizeof(float)};
  return DimbaModel::load(ck, cfg, dtype, backend);
}

}  // namespace dimba
