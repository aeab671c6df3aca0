// Golden kind "t5": DIR/CASE.json (a transformers T5Config with model_type "t5") +
// CASE.weights.safetensors (encoder state dict, Hugging Face names) + CASE.io.safetensors
// (input.ids I64 [B, L], input.mask I64 [B, L], output F32 [B, L, d_model], the last hidden
// state at every position, padding included). Runs the encoder with the chosen weight dtype
// (F32, or BF16 weights) and compares the output: f32 within 1e-4, bf16 within 2e-2 (MODEL.md 3).
// The Dimba kind has the same three file names, so this one checks model_type and is listed
// before it in cases.cpp.
// defines: kT5Case
#include <cstdint>
#include <cstring>
#include <fstream>

#include "backend/select.h"
#include "core/error.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/t5_encoder.h"
#include "verify/cases.h"

namespace dimba {
namespace {

bool file_exists(const std::string& p) { return std::ifstream(p).good(); }

bool detect_t5(const std::string& dir, const std::string& name) {
  const std::string base = dir + "/" + name;
  if (!file_exists(base + ".json") || !file_exists(base + ".weights.safetensors") ||
      !file_exists(base + ".io.safetensors"))
    return false;
  try {
    nlohmann::json j = parse_json_untrusted(read_text_file(base + ".json", 1u << 20), base + ".json");
    return j.is_object() && j.contains("model_type") && j["model_type"] == "t5";
  } catch (const EngineError&) {
    return false;  // not a readable T5 config: let other kinds (or the "no case" error) answer
  }
}

const TensorEntry& need(const Checkpoint& io, const std::string& key, DType dtype, const std::string& what) {
  const TensorEntry* e = io.find(key);
  if (!e) throw EngineError(ErrorCode::BadFile, what + ": missing tensor " + key);
  if (e->dtype != dtype)
    throw EngineError(ErrorCode::BadFile,
                      what + ": " + key + " is " + dtype_name(e->dtype) + ", expected " + dtype_name(dtype));
  return *e;
}

// I64 [B, L] -> int32, refusing values an int32 cannot hold.
std::vector<int32_t> narrow_ids(const TensorEntry& e, const std::string& what) {
  std::vector<int64_t> v(e.nbytes / 8);
  if (!v.empty()) std::memcpy(v.data(), e.data, e.nbytes);
  std::vector<int32_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] < INT32_MIN || v[i] > INT32_MAX) throw EngineError(ErrorCode::BadFile, what + ": id out of int32 range");
    out[i] = int32_t(v[i]);
  }
  return out;
}

VerifyReport run_t5(const std::string& dir, const std::string& name, const VerifyOptions& opt) {
  const std::string base = dir + "/" + name;
  const std::string cfg_path = base + ".json";
  const std::string what = base + ".io.safetensors";
  T5Config cfg = T5Config::from_json(parse_json_untrusted(read_text_file(cfg_path), cfg_path));
  Checkpoint weights = load_safetensors(base + ".weights.safetensors");
  Checkpoint io = load_safetensors(what);

  const TensorEntry& eids = need(io, "input.ids", DType::I64, what);
  const TensorEntry& eo = need(io, "output", DType::F32, what);
  if (eids.shape.size() != 2) throw EngineError(ErrorCode::BadFile, what + ": input.ids must be [B, L]");
  const int64_t B = eids.shape[0], L = eids.shape[1];
  if (eo.shape != std::vector<int64_t>{B, L, cfg.d_model})
    throw EngineError(ErrorCode::BadFile, what + ": output shape " + shape_str(eo.shape) + " is not [B, L, d_model]");
  std::vector<int32_t> ids = narrow_ids(eids, what);
  std::vector<int32_t> mask(ids.size(), 1);
  if (const TensorEntry* em = io.find("input.mask")) {
    if (em->dtype != DType::I64 || em->shape != eids.shape)
      throw EngineError(ErrorCode::BadFile, what + ": input.mask must be I64 [B, L]");
    mask = narrow_ids(*em, what);
  }

  T5WeightFormat format;
  if (opt.weight_dtype == DType::F32) {
    format = T5WeightFormat::F32;
  } else if (opt.weight_dtype == DType::BF16) {
    format = T5WeightFormat::BF16;
  } else {
    throw EngineError(ErrorCode::InvalidArgument,
                      std::string("t5 golden: weight dtype must be F32 or BF16 (T5 overflows in f16), not ") +
                          dtype_name(opt.weight_dtype));
  }
  const double tol = format == T5WeightFormat::F32 ? 1e-4 : 2e-2;
  T5Encoder enc = T5Encoder::load(weights, cfg, format, *choose_backend(opt.backend).backend);
  std::vector<float> out(size_t(shape_numel(eo.shape)));
  enc.forward(out.data(), ids.data(), mask.data(), int(B), int(L));

  std::vector<float> want(out.size());
  std::memcpy(want.data(), eo.data, eo.nbytes);
  VerifyReport rep;
  rep.kind = "t5";
  rep.lines.push_back(compare_line("output", out.data(), want.data(), want.size(), tol));
  return rep;
}

}  // namespace

extern const GoldenKind kT5Case;
const GoldenKind kT5Case = {"t5", "CASE.json (model_type t5) + CASE.weights.safetensors + CASE.io.safetensors",
                            detect_t5, run_t5};

}  // namespace dimba
