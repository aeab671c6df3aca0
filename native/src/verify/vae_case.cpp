// Golden kind "vae": DIR/CASE.json (a diffusers AutoencoderKL config, recognised by its
// block_out_channels) + CASE.weights.safetensors (the state dict, diffusers names) +
// CASE.io.safetensors (input.image, encode.mean, encode.std, input.latent, decode.sample),
// laid out like ../shared/golden/vae-tiny.*. Encodes and decodes with the chosen weight dtype
// and compares the posterior mean and std and the decoded image: f32 within 1e-4, bf16
// within 2e-2 (F16 is refused by the VAE itself: MODEL.md 6).
// defines: kVaeCase
#include <cstring>
#include <fstream>

#include "backend/select.h"
#include "core/error.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/vae.h"
#include "verify/cases.h"

namespace dimba {
namespace {

bool file_exists(const std::string& p) { return std::ifstream(p).good(); }

bool detect_vae(const std::string& dir, const std::string& name) {
  const std::string base = dir + "/" + name;
  if (!file_exists(base + ".json") || !file_exists(base + ".weights.safetensors") ||
      !file_exists(base + ".io.safetensors"))
    return false;
  try {  // other kinds share this layout: the config decides
    const nlohmann::json j = parse_json_untrusted(read_text_file(base + ".json", 1 << 20), base + ".json");
    return j.is_object() && j.contains("block_out_channels");
  } catch (const EngineError&) {
    return false;
  }
}

const TensorEntry& need(const Checkpoint& io, const std::string& key, const std::string& what) {
  const TensorEntry* e = io.find(key);
  if (!e) throw EngineError(ErrorCode::BadFile, what + ": missing tensor " + key);
  if (e->dtype != DType::F32 || e->shape.size() != 4)
    throw EngineError(ErrorCode::BadFile, what + ": " + key + " must be F32 [B, C, H, W]");
  return *e;
}

Tensor copy_of(const TensorEntry& e) {
  Tensor t = Tensor::empty(DType::F32, e.shape);
  std::memcpy(t.data, e.data, e.nbytes);
  return t;
}

VerifyReport run_vae(const std::string& dir, const std::string& name, const VerifyOptions& opt) {
  const std::string base = dir + "/" + name;
  const std::string what = base + ".io.safetensors";
  VaeConfig cfg = VaeConfig::from_json(parse_json_untrusted(read_text_file(base + ".json"), base + ".json"));
  Checkpoint weights = load_safetensors(base + ".weights.safetensors");
  Checkpoint io = load_safetensors(what);
  VaeModel vae = VaeModel::load(weights, cfg, opt.weight_dtype, *choose_backend(opt.backend).backend);

  const TensorEntry &eimg = need(io, "input.image", what), &emean = need(io, "encode.mean", what),
                    &estd = need(io, "encode.std", what), &elat = need(io, "input.latent", what),
                    &edec = need(io, "decode.sample", what);
  const double tol = opt.weight_dtype == DType::F32 ? 1e-4 : 2e-2;
  VerifyReport rep;
  rep.kind = "vae";
  VaePosterior post = vae.encode(copy_of(eimg));
  if (post.mean.shape != emean.shape || post.std.shape != estd.shape)
    throw EngineError(ErrorCode::BadFile, what + ": encode.mean/std shapes do not fit the config and input.image");
  rep.lines.push_back(compare_line("encode.mean", post.mean.f32(), reinterpret_cast<const float*>(emean.data),
                                   size_t(post.mean.numel()), tol));
  rep.lines.push_back(compare_line("encode.std", post.std.f32(), reinterpret_cast<const float*>(estd.data),
                                   size_t(post.std.numel()), tol));
  Tensor dec = vae.decode(copy_of(elat));
  if (dec.shape != edec.shape)
    throw EngineError(ErrorCode::BadFile, what + ": decode.sample shape does not fit the config and input.latent");
  rep.lines.push_back(compare_line("decode.sample", dec.f32(), reinterpret_cast<const float*>(edec.data),
                                   size_t(dec.numel()), tol));
  return rep;
}

}  // namespace

extern const GoldenKind kVaeCase;
const GoldenKind kVaeCase = {"vae", "CASE.json (with block_out_channels) + CASE.weights.safetensors + CASE.io.safetensors",
                             detect_vae, run_vae};

}  // namespace dimba
