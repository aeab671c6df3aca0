// Binding an AutoencoderKL checkpoint to VaeEncoderWeights/VaeDecoderWeights. One pass
// validates every expected name, shape and dtype and collects ALL problems into one
// ModelMismatch error; a second pass binds. Conv kernels are permuted at load from PyTorch's
// (cout, cin, k, k) to the channels-last (cout, k, k, cin) that conv2d_forward reads, and
// stored in the model's dtype; the attention's q/k/v are stacked into one (3C, C) matrix.
// Each tensor is then placed in the backend's memory (models/backend_io.h): kept on the host
// for the CPU, copied to the device (no host copy kept) elsewhere.
//
// Two attention namings exist: current diffusers (to_q, to_k, to_v, to_out.0) and the one
// older checkpoints were saved with (query, key, value, proj_attn; diffusers converts these
// in modeling_utils' _convert_deprecated_attention_blocks), where the weights may also be
// conv-shaped [C, C, 1, 1]. Both are accepted; a checkpoint holding both for one tensor is
// ambiguous and refused.
// defines: VaeModel::load, VaeModel::load_folder
#include <cstring>
#include <map>
#include <set>

#include "core/error.h"
#include "core/tensor.h"
#include "io/json.h"
#include "io/load_checkpoint.h"
#include "models/backend_io.h"
#include "models/model_files.h"
#include "models/vae.h"

namespace dimba {
namespace {


// The legacy name of a current attention tensor name, or "" when it has none.
std::string legacy_attention_name(const std::string& name) {
  static const std::pair<const char*, const char*> kMap[] = {
      {".to_q.", ".query."}, {".to_k.", ".key."}, {".to_v.", ".value."}, {".to_out.0.", ".proj_attn."}};
  if (name.find(".attentions.") == std::string::npos) return "";
  for (const auto& [cur, old] : kMap) {
    size_t at = name.find(cur);
    if (at != std::string::npos) return name.substr(0, at) + old + name.substr(at + std::strlen(cur));
  }
  return "";
}

// name -> the checkpoint entry that provides it (after resolving the naming), built by validate().
using Resolved = std::map<std::string, const TensorEntry*>;

Resolved validate(const Checkpoint& ck, const VaeConfig& cfg) {
  TensorListCheck check;
  Resolved res;
  for (const auto& [name, shape] : vae_expected_tensors(cfg)) {
    const std::string old = legacy_attention_name(name);
    const bool has_new = ck.find(name) != nullptr, has_old = !old.empty() && ck.find(old) != nullptr;
    if (has_new && has_old) {
      check.problems.push_back("ambiguous " + name + ": both it and " + old + " are present");
      check.seen.insert(name);
      check.seen.insert(old);
      continue;
    }
    // Old attention matrices may be stored conv-shaped: [C, C, 1, 1] for [C, C].
    std::vector<std::vector<int64_t>> alt;
    if (!old.empty() && shape.size() == 2) alt.push_back({shape[0], shape[1], 1, 1});
    const TensorEntry* e = check.expect(ck, has_old ? old : name, shape, old.empty() ? "" : " (or " + old + ")", alt);
    if (e) res[name] = e;
  }
  check.unexpected_rest(ck);
  check.throw_if_any("the VAE config (" + std::to_string(cfg.levels()) + " levels, " +
                     std::to_string(cfg.block_out_channels.back()) + " channels at the bottom)");
  return res;
}

struct Binder {
  const Resolved& res;
  DType wdtype;
  std::vector<std::shared_ptr<void>>& storage;
  WeightPlacer& placer;
  size_t bytes = 0;

  std::vector<float> floats(const std::string& name) {
    auto it = res.find(name);
    DIMBA_CHECK(it != res.end());  // validated before binding
    const TensorEntry& e = *it->second;
    std::vector<float> v(e.nbytes / dtype_size(e.dtype));
    convert_to_f32(v.data(), e.data, e.dtype, v.size());
    return v;
  }
  const float* keep_f32(const std::vector<float>& v) {
    bytes += v.size() * 4;
    if (!placer.on_host()) return placer.place_f32(v.data(), v.size());
    auto mem = aligned_alloc_shared(v.size() * 4);
    std::memcpy(mem.get(), v.data(), v.size() * 4);
    storage.push_back(mem);
    return static_cast<const float*>(mem.get());
  }
  const void* keep_w(const std::vector<float>& v) {
    auto mem = aligned_alloc_shared(v.size() * dtype_size(wdtype));
    convert_from_f32(mem.get(), wdtype, v.data(), v.size());
    bytes += v.size() * dtype_size(wdtype);
    if (!placer.on_host()) return placer.place(mem.get(), v.size() * dtype_size(wdtype));
    storage.push_back(mem);
    return mem.get();
  }
  VaeNorm norm(const std::string& p) { return {keep_f32(floats(p + ".weight")), keep_f32(floats(p + ".bias"))}; }
  // (cout, cin, k, k) -> (cout, k, k, cin).
  VaeConv conv(const std::string& p, int cout, int cin, int k) {
    std::vector<float> w = floats(p + ".weight"), wt(w.size());
    for (int o = 0; o < cout; ++o)
      for (int c = 0; c < cin; ++c)
        for (int a = 0; a < k * k; ++a) wt[(size_t(o) * k * k + a) * cin + c] = w[(size_t(o) * cin + c) * k * k + a];
    return {keep_w(wt), wdtype, keep_f32(floats(p + ".bias")), cout, cin, k};
  }
  VaeResnetWeights resnet(const std::string& p, int cin, int cout) {
    VaeResnetWeights r;
    r.norm1 = norm(p + ".norm1");
    r.conv1 = conv(p + ".conv1", cout, cin, 3);
    r.norm2 = norm(p + ".norm2");
    r.conv2 = conv(p + ".conv2", cout, cout, 3);
    if (cin != cout) r.shortcut = conv(p + ".conv_shortcut", cout, cin, 1);
    return r;
  }
  VaeAttentionWeights attention(const std::string& p, int C) {
    VaeAttentionWeights a;
    a.norm = norm(p + ".group_norm");
    std::vector<float> w, b;
    for (const char* n : {".to_q", ".to_k", ".to_v"}) {
      std::vector<float> wi = floats(p + n + ".weight"), bi = floats(p + n + ".bias");
      w.insert(w.end(), wi.begin(), wi.end());
      b.insert(b.end(), bi.begin(), bi.end());
    }
    a.qkv = {keep_w(w), wdtype, keep_f32(b), 3 * C, C, 1};
    a.out = {keep_w(floats(p + ".to_out.0.weight")), wdtype, keep_f32(floats(p + ".to_out.0.bias")), C, C, 1};
    return a;
  }
  VaeMidWeights mid(const std::string& p, int C, bool attention_on) {
    VaeMidWeights m;
    m.resnet0 = resnet(p + ".resnets.0", C, C);
    m.has_attention = attention_on;
    if (attention_on) m.attention = attention(p + ".attentions.0", C);
    m.resnet1 = resnet(p + ".resnets.1", C, C);
    return m;
  }
};

}  // namespace

VaeModel VaeModel::load(const Checkpoint& ckpt, const VaeConfig& cfg, DType weight_dtype, const Backend& backend) {
  cfg.validate();
  if (weight_dtype == DType::F16)
    throw EngineError(ErrorCode::InvalidArgument,
                      "VAE weights cannot run in F16: the SDXL VAE's activations overflow it; use BF16 or F32");
  if (weight_dtype != DType::F32 && weight_dtype != DType::BF16)
    throw EngineError(ErrorCode::InvalidArgument,
                      std::string("VAE weight dtype must be F32 or BF16, not ") + dtype_name(weight_dtype));
  const Resolved res = validate(ckpt, cfg);

  VaeModel m;
  m.cfg_ = cfg;
  m.wdtype_ = weight_dtype;
  m.be_ = &backend;
  m.arena_ = backend_arena(backend);
  m.arena_->alloc(64);  // see VaeModel::arena_base_
  m.arena_base_ = m.arena_->mark();
  WeightPlacer placer(backend, m.storage_);
  Binder bd{res, weight_dtype, m.storage_, placer};
  const auto& ch = cfg.block_out_channels;
  const int n = cfg.levels(), L = cfg.latent_channels, lpb = cfg.layers_per_block;

  VaeEncoderWeights& e = m.enc_;
  e.conv_in = bd.conv("encoder.conv_in", ch[0], cfg.in_channels, 3);
  int c = ch[0];
  for (int i = 0; i < n; ++i) {
    const std::string p = "encoder.down_blocks." + std::to_string(i);
    std::vector<VaeResnetWeights> rs;
    for (int r = 0; r < lpb; ++r) {
      rs.push_back(bd.resnet(p + ".resnets." + std::to_string(r), c, ch[size_t(i)]));
      c = ch[size_t(i)];
    }
    e.down.push_back(rs);
    if (i < n - 1) e.downsample.push_back(bd.conv(p + ".downsamplers.0.conv", c, c, 3));
  }
  e.mid = bd.mid("encoder.mid_block", c, cfg.mid_block_add_attention);
  e.norm_out = bd.norm("encoder.conv_norm_out");
  e.conv_out = bd.conv("encoder.conv_out", 2 * L, c, 3);
  if (cfg.use_quant_conv) e.quant = bd.conv("quant_conv", 2 * L, 2 * L, 1);

  VaeDecoderWeights& d = m.dec_;
  if (cfg.use_post_quant_conv) d.post_quant = bd.conv("post_quant_conv", L, L, 1);
  c = ch[size_t(n - 1)];
  d.conv_in = bd.conv("decoder.conv_in", c, L, 3);
  d.mid = bd.mid("decoder.mid_block", c, cfg.mid_block_add_attention);
  for (int i = 0; i < n; ++i) {
    const int co = ch[size_t(n - 1 - i)];
    const std::string p = "decoder.up_blocks." + std::to_string(i);
    std::vector<VaeResnetWeights> rs;
    for (int r = 0; r < lpb + 1; ++r) {
      rs.push_back(bd.resnet(p + ".resnets." + std::to_string(r), c, co));
      c = co;
    }
    d.up.push_back(rs);
    if (i < n - 1) d.upsample.push_back(bd.conv(p + ".upsamplers.0.conv", c, c, 3));
  }
  d.norm_out = bd.norm("decoder.conv_norm_out");
  d.conv_out = bd.conv("decoder.conv_out", cfg.out_channels, c, 3);
  m.weight_bytes_ = bd.bytes;
  return m;
}

VaeModel VaeModel::load_folder(const std::string& dir, DType weight_dtype, const Backend& backend) {
  const std::string cfg_path = dir + "/config.json";
  VaeConfig cfg = VaeConfig::from_json(parse_json_untrusted(read_text_file(cfg_path), cfg_path));
  Checkpoint ck = load_checkpoint(dir);
  return load(ck, cfg, weight_dtype, backend);  // every tensor is copied: the mapping may close
}

}  // namespace dimba
