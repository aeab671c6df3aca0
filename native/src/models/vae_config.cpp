// AutoencoderKL configuration: parsing diffusers' config.json, sanity limits, and the tensor
// list a checkpoint must hold (names as golden/sdxl-vae.keys.json, MODEL.md section 6).
// defines: VaeConfig::from_json, VaeConfig::validate, vae_expected_tensors
#include <cmath>

#include "core/error.h"
#include "models/model_files.h"
#include "models/vae.h"

namespace dimba {
namespace {

const ConfigReader kConfig{"VAE config"};


// Every entry of a string list must be `want` (the only block types this VAE implements).
void check_types(const nlohmann::json& j, const char* key, const char* want, size_t levels) {
  if (!j.contains(key)) return;
  const auto& v = j[key];
  if (!v.is_array() || v.size() != levels) kConfig.bad(std::string(key) + " must list one type per level");
  for (const auto& t : v)
    if (!t.is_string() || t.get<std::string>() != want) kConfig.bad(std::string(key) + ": only " + want + " is supported");
}

using Shape = std::vector<int64_t>;
using Entry = std::pair<std::string, Shape>;

void add_norm(std::vector<Entry>& t, const std::string& p, int C) {
  t.push_back({p + ".weight", {C}});
  t.push_back({p + ".bias", {C}});
}
void add_conv(std::vector<Entry>& t, const std::string& p, int cout, int cin, int k) {
  t.push_back({p + ".weight", {cout, cin, k, k}});
  t.push_back({p + ".bias", {cout}});
}
void add_resnet(std::vector<Entry>& t, const std::string& p, int cin, int cout) {
  add_norm(t, p + ".norm1", cin);
  add_conv(t, p + ".conv1", cout, cin, 3);
  add_norm(t, p + ".norm2", cout);
  add_conv(t, p + ".conv2", cout, cout, 3);
  if (cin != cout) add_conv(t, p + ".conv_shortcut", cout, cin, 1);
}
void add_mid(std::vector<Entry>& t, const std::string& p, int C, bool attention) {
  add_resnet(t, p + ".resnets.0", C, C);
  if (attention) {
    const std::string a = p + ".attentions.0";
    add_norm(t, a + ".group_norm", C);
    for (const char* n : {".to_q", ".to_k", ".to_v", ".to_out.0"}) {
      t.push_back({a + n + ".weight", {C, C}});
      t.push_back({a + n + ".bias", {C}});
    }
  }
  add_resnet(t, p + ".resnets.1", C, C);
}

}  // namespace

VaeConfig VaeConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) kConfig.bad("not a JSON object");
  VaeConfig c;
  if (j.contains("block_out_channels")) {
    const auto& v = j["block_out_channels"];
    if (!v.is_array() || v.empty() || v.size() > 8) kConfig.bad("block_out_channels must be a list of 1..8 integers");
    c.block_out_channels.clear();
    for (const auto& x : v) c.block_out_channels.push_back(kConfig.as_int(x, "block_out_channels"));
  }
  c.in_channels = kConfig.get_int(j, "in_channels", c.in_channels);
  c.out_channels = kConfig.get_int(j, "out_channels", c.out_channels);
  c.layers_per_block = kConfig.get_int(j, "layers_per_block", c.layers_per_block);
  c.norm_num_groups = kConfig.get_int(j, "norm_num_groups", c.norm_num_groups);
  c.latent_channels = kConfig.get_int(j, "latent_channels", c.latent_channels);
  c.scaling_factor = kConfig.get_num(j, "scaling_factor", c.scaling_factor);
  c.use_quant_conv = kConfig.get_bool(j, "use_quant_conv", c.use_quant_conv);
  c.use_post_quant_conv = kConfig.get_bool(j, "use_post_quant_conv", c.use_post_quant_conv);
  c.mid_block_add_attention = kConfig.get_bool(j, "mid_block_add_attention", c.mid_block_add_attention);
  check_types(j, "down_block_types", "DownEncoderBlock2D", c.block_out_channels.size());
  check_types(j, "up_block_types", "UpDecoderBlock2D", c.block_out_channels.size());
  if (j.contains("act_fn") && !j["act_fn"].is_null() && j["act_fn"] != "silu") kConfig.bad("act_fn must be silu");
  // Latent shift/normalisation (SD3, Playground) is a different latent space from SDXL's.
  if (j.contains("shift_factor") && !j["shift_factor"].is_null() && kConfig.get_num(j, "shift_factor", 0.0) != 0.0)
    kConfig.bad("shift_factor is not supported (SDXL has none)");
  c.validate();
  return c;
}

void VaeConfig::validate() const {
  kConfig.check_range("in_channels", in_channels, 1, 64);
  kConfig.check_range("out_channels", out_channels, 1, 64);
  kConfig.check_range("latent_channels", latent_channels, 1, 64);
  kConfig.check_range("layers_per_block", layers_per_block, 1, 16);
  kConfig.check_range("norm_num_groups", norm_num_groups, 1, 1024);
  kConfig.check_range("scaling_factor", scaling_factor, 1e-6, 1e6);
  if (block_out_channels.empty() || block_out_channels.size() > 8) kConfig.bad("block_out_channels must have 1..8 levels");
  for (int c : block_out_channels) {
    kConfig.check_range("block_out_channels[i]", c, 1, 8192);
    if (c % norm_num_groups != 0)
      kConfig.bad("block_out_channels " + std::to_string(c) + " is not a multiple of norm_num_groups " +
          std::to_string(norm_num_groups));
  }
}

std::vector<std::pair<std::string, std::vector<int64_t>>> vae_expected_tensors(const VaeConfig& cfg) {
  std::vector<Entry> t;
  const auto& ch = cfg.block_out_channels;
  const int n = cfg.levels(), L = cfg.latent_channels;
  // Encoder (diffusers Encoder): conv_in, down blocks, mid, norm, conv_out to 2L.
  add_conv(t, "encoder.conv_in", ch[0], cfg.in_channels, 3);
  int c = ch[0];
  for (int i = 0; i < n; ++i) {
    const std::string p = "encoder.down_blocks." + std::to_string(i);
    for (int r = 0; r < cfg.layers_per_block; ++r) {
      add_resnet(t, p + ".resnets." + std::to_string(r), c, ch[size_t(i)]);
      c = ch[size_t(i)];
    }
    if (i < n - 1) add_conv(t, p + ".downsamplers.0.conv", c, c, 3);
  }
  add_mid(t, "encoder.mid_block", c, cfg.mid_block_add_attention);
  add_norm(t, "encoder.conv_norm_out", c);
  add_conv(t, "encoder.conv_out", 2 * L, c, 3);
  // Decoder: conv_in, mid, up blocks over the reversed channel list, norm, conv_out.
  c = ch[size_t(n - 1)];
  add_conv(t, "decoder.conv_in", c, L, 3);
  add_mid(t, "decoder.mid_block", c, cfg.mid_block_add_attention);
  for (int i = 0; i < n; ++i) {
    const int co = ch[size_t(n - 1 - i)];
    const std::string p = "decoder.up_blocks." + std::to_string(i);
    for (int r = 0; r < cfg.layers_per_block + 1; ++r) {
      add_resnet(t, p + ".resnets." + std::to_string(r), c, co);
      c = co;
    }
    if (i < n - 1) add_conv(t, p + ".upsamplers.0.conv", c, c, 3);
  }
  add_norm(t, "decoder.conv_norm_out", c);
  add_conv(t, "decoder.conv_out", cfg.out_channels, c, 3);
  if (cfg.use_quant_conv) add_conv(t, "quant_conv", 2 * L, 2 * L, 1);
  if (cfg.use_post_quant_conv) add_conv(t, "post_quant_conv", L, L, 1);
  return t;
}

}  // namespace dimba
