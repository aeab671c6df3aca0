// Golden kind "dimba": DIR/CASE.json (config, golden format) + CASE.weights.safetensors (a
// state dict with the reference names) + CASE.io.safetensors (input.x, input.t, input.y,
// input.mask, output, act.*). Runs the forward with the chosen weight dtype and compares every
// act.* tensor and the output: f32 within 1e-4, bf16/f16 weights within 2e-2 (MODEL.md 3).
// defines: kDimbaCase, run_dimba_case
#include <cstring>
#include <fstream>
#include <limits>
#include <map>

#include "backend/select.h"
#include "core/error.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/dimba.h"
#include "verify/cases.h"

namespace dimba {
namespace {

bool file_exists(const std::string& p) { return std::ifstream(p).good(); }

// T5 and VAE cases share this file layout, so the config must also look like Dimba's.
bool detect_dimba(const std::string& dir, const std::string& name) {
  const std::string base = dir + "/" + name;
  if (!file_exists(base + ".json") || !file_exists(base + ".weights.safetensors") ||
      !file_exists(base + ".io.safetensors"))
    return false;
  try {
    nlohmann::json j = parse_json_untrusted(read_text_file(base + ".json", 1 << 20), base + ".json");
    return j.is_object() && j.contains("hidden_size") && j.contains("depth") && j.contains("mamba_ratio");
  } catch (const EngineError&) {
    return false;
  }
}

const TensorEntry& need(const Checkpoint& io, const std::string& key, DType dtype, const std::string& what) {
  const TensorEntry* e = io.find(key);
  if (!e) throw EngineError(ErrorCode::BadFile, what + ": missing tensor " + key);
  if (e->dtype != dtype)
    throw EngineError(ErrorCode::BadFile, what + ": " + key + " is " + dtype_name(e->dtype) + ", expected " + dtype_name(dtype));
  return *e;
}

std::vector<float> floats(const TensorEntry& e) {
  std::vector<float> v(e.nbytes / 4);
  if (!v.empty()) std::memcpy(v.data(), e.data, e.nbytes);
  return v;
}

VerifyReport run_dimba(const std::string& dir, const std::string& name, const VerifyOptions& opt) {
  const std::string base = dir + "/" + name;
  const std::string cfg_path = base + ".json";
  DimbaConfig cfg = DimbaConfig::from_json(parse_json_untrusted(read_text_file(cfg_path), cfg_path));
  Checkpoint weights = load_safetensors(base + ".weights.safetensors");
  Checkpoint io = load_safetensors(base + ".io.safetensors");
  const std::string what = base + ".io.safetensors";

  const TensorEntry& ex = need(io, "input.x", DType::F32, what);
  const TensorEntry& et = need(io, "input.t", DType::F32, what);
  const TensorEntry& ey = need(io, "input.y", DType::F32, what);
  const TensorEntry& eo = need(io, "output", DType::F32, what);
  if (ex.shape.size() != 4 || ey.shape.size() != 4 || et.shape.size() != 1 || ex.shape[0] != et.shape[0] ||
      ey.shape[0] != ex.shape[0] || ey.shape[1] != 1 || ex.shape[1] != cfg.in_channels ||
      ey.shape[3] != cfg.caption_channels)
    throw EngineError(ErrorCode::BadFile, what + ": input shapes do not fit the config");
  const int B = int(ex.shape[0]), H = int(ex.shape[2]), W = int(ex.shape[3]), L = int(ey.shape[2]);
  if (eo.shape != std::vector<int64_t>{B, cfg.out_channels, H, W})
    throw EngineError(ErrorCode::BadFile, what + ": output shape " + shape_str(eo.shape) + " does not fit the config");
  std::vector<int> lens(size_t(B), L);
  if (const TensorEntry* em = io.find("input.mask")) {
    if (em->dtype != DType::I64 || em->shape != std::vector<int64_t>{B, L})
      throw EngineError(ErrorCode::BadFile, what + ": input.mask must be I64 [B, L]");
    std::vector<int64_t> m(size_t(B) * L);
    std::memcpy(m.data(), em->data, em->nbytes);
    lens = mask_to_lengths(m.data(), B, L);
  }

  const double tol = opt.weight_dtype == DType::F32 ? 1e-4 : 2e-2;
  DimbaModel model = DimbaModel::load(weights, cfg, opt.weight_dtype, *choose_backend(opt.backend).backend);
  std::vector<float> x = floats(ex), t = floats(et), y = floats(ey), out(size_t(shape_numel(eo.shape)));

  // Compare activations as they stream out (in forward order), then the output.
  VerifyReport rep;
  rep.kind = "dimba";
  std::map<std::string, bool> seen;
  model.forward(out.data(), x.data(), t.data(), y.data(), lens.data(), B, H, W, L,
                [&](const std::string& act, const float* data, const std::vector<int64_t>& shape) {
                  const TensorEntry* e = io.find(act);
                  if (!e) return;  // an activation this case does not pin
                  seen[act] = true;
                  if (e->dtype != DType::F32 || shape_numel(e->shape) != shape_numel(shape)) {
                    rep.lines.push_back({act + " (shape " + shape_str(e->shape) + " vs " + shape_str(shape) + ")",
                                         std::numeric_limits<double>::infinity(), tol});
                    return;
                  }
                  std::vector<float> want = floats(*e);
                  rep.lines.push_back(compare_line(act, data, want.data(), want.size(), tol));
                });
  // Every act.* the case pins must have been produced.
  for (const auto& [key, e] : io.tensors)
    if (key.rfind("act.", 0) == 0 && !seen.count(key))
      rep.lines.push_back({key + " (not produced)", std::numeric_limits<double>::infinity(), tol});
  std::vector<float> want = floats(eo);
  rep.lines.push_back(compare_line("output", out.data(), want.data(), want.size(), tol));
  return rep;
}

}  // namespace

extern const GoldenKind kDimbaCase;
const GoldenKind kDimbaCase = {"dimba", "CASE.json + CASE.weights.safetensors + CASE.io.safetensors", detect_dimba,
                               run_dimba};

}  // namespace dimba
