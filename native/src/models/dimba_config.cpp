// Dimba configuration: parsing the golden JSON format, Dimba-L/2 presets, sanity limits,
// mamba placement and the expected tensor list (names from golden/dimba-l-2.keys.json).
// defines: DimbaConfig::from_json, DimbaConfig::dimba_l_2, DimbaConfig::validate,
//          DimbaConfig::mamba_after_block, dimba_expected_tensors
#include <cmath>

#include "core/error.h"
#include "models/model_files.h"
#include "models/dimba.h"

namespace dimba {
namespace {

const ConfigReader kConfig{"Dimba config"};

}  // namespace

const char* prediction_type_name(DimbaConfig::Prediction p) {
  switch (p) {
    case DimbaConfig::Prediction::V: return "v_prediction";
    case DimbaConfig::Prediction::Sample: return "sample";
    case DimbaConfig::Prediction::Epsilon: break;
  }
  return "epsilon";
}

DimbaConfig DimbaConfig::from_json(const nlohmann::json& j) {
  if (!j.is_object()) kConfig.bad("not a JSON object");
  DimbaConfig c;
  c.depth = kConfig.get_int(j, "depth", c.depth);
  c.hidden_size = kConfig.get_int(j, "hidden_size", c.hidden_size);
  c.num_heads = kConfig.get_int(j, "num_heads", c.num_heads);
  c.patch_size = kConfig.get_int(j, "patch_size", c.patch_size);
  c.in_channels = kConfig.get_int(j, "in_channels", c.in_channels);
  c.out_channels = kConfig.get_int(j, "out_channels", 2 * c.in_channels);
  c.caption_channels = kConfig.get_int(j, "caption_channels", c.caption_channels);
  c.model_max_length = kConfig.get_int(j, "model_max_length", c.model_max_length);
  c.mamba_ratio = kConfig.get_num(j, "mamba_ratio", c.mamba_ratio);
  c.pe_interpolation = kConfig.get_num(j, "pe_interpolation", c.pe_interpolation);
  c.input_size = kConfig.get_int(j, "input_size", c.input_size);
  c.d_state = kConfig.get_int(j, "d_state", c.d_state);
  c.d_conv = kConfig.get_int(j, "d_conv", c.d_conv);
  c.expand = kConfig.get_int(j, "expand", c.expand);
  c.dt_rank = kConfig.get_int(j, "dt_rank", 0);
  c.mlp_ratio = kConfig.get_num(j, "mlp_ratio", c.mlp_ratio);
  if (j.contains("prediction_type") && !j["prediction_type"].is_null()) {
    const nlohmann::json& pt = j["prediction_type"];
    if (!pt.is_string() || (pt != "epsilon" && pt != "v_prediction" && pt != "sample"))
      kConfig.bad("prediction_type must be \"epsilon\", \"v_prediction\" or \"sample\"");
    c.prediction = pt == "v_prediction" ? Prediction::V : pt == "sample" ? Prediction::Sample : Prediction::Epsilon;
  }
  c.validate();
  // The golden files also state the derived values; a disagreement means the JSON describes
  // a different placement rule than MODEL.md's.
  if (j.contains("gap") && kConfig.get_int(j, "gap", 0) != c.gap()) kConfig.bad("gap disagrees with depth // int(mamba_ratio*depth)");
  if (j.contains("mamba_depth") && kConfig.get_int(j, "mamba_depth", 0) != c.mamba_depth())
    kConfig.bad("mamba_depth disagrees with int(mamba_ratio*depth)");
  return c;
}

DimbaConfig DimbaConfig::dimba_l_2(int resolution) {
  if (resolution != 512 && resolution != 1024 && resolution != 2048)
    kConfig.bad("Dimba-L/2 resolution must be 512, 1024 or 2048");
  DimbaConfig c;  // the defaults are Dimba-L/2 at 512px
  c.input_size = resolution / 8;
  c.pe_interpolation = resolution / 512.0;
  c.validate();
  return c;
}

void DimbaConfig::validate() const {
  kConfig.check_range("depth", depth, 1, 1024);
  kConfig.check_range("hidden_size", hidden_size, 4, 32768);
  kConfig.check_range("num_heads", num_heads, 1, 1024);
  if (hidden_size % num_heads) kConfig.bad("hidden_size not divisible by num_heads");
  if (hidden_size % 4) kConfig.bad("hidden_size must be a multiple of 4 (2-D sin-cos position embedding)");
  kConfig.check_range("patch_size", patch_size, 1, 64);
  kConfig.check_range("in_channels", in_channels, 1, 4096);
  kConfig.check_range("out_channels", out_channels, 1, 4096);
  kConfig.check_range("caption_channels", caption_channels, 1, 65536);
  kConfig.check_range("model_max_length", model_max_length, 1, 65536);
  kConfig.check_range("pe_interpolation", pe_interpolation, 1e-6, 1e6);
  kConfig.check_range("input_size", input_size, patch_size, 1 << 16);
  kConfig.check_range("d_state", d_state, 1, 64);
  kConfig.check_range("d_conv", d_conv, 1, 64);
  kConfig.check_range("expand", expand, 1, 16);
  kConfig.check_range("dt_rank", dt_rank, 0, 65536);
  kConfig.check_range("mlp_ratio", mlp_ratio, 1e-3, 64);
  if (mlp_hidden() < 1) kConfig.bad("mlp hidden size below 1");
  kConfig.check_range("mamba_ratio", mamba_ratio, 1e-9, 1.0);
  if (mamba_depth() < 1) kConfig.bad("int(mamba_ratio * depth) is 0: no mamba blocks");
  // The reference indexes mamba_blocks[i // gap] for i % gap == 1; that must stay in range.
  for (int i = 0; i < depth; ++i)
    if (mamba_after_block(i) >= mamba_depth()) kConfig.bad("mamba placement indexes past mamba_depth");
}

int DimbaConfig::mamba_after_block(int i) const {
  const int g = gap();
  if (g == 1) return i;
  return i % g == 1 ? i / g : -1;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> dimba_expected_tensors(const DimbaConfig& c) {
  const int64_t C = c.hidden_size, p = c.patch_size, Di = c.d_inner(), Ns = c.d_state, R = c.dt_rank_resolved();
  const int64_t Hm = c.mlp_hidden();
  std::vector<std::pair<std::string, std::vector<int64_t>>> t = {
      {"x_embedder.proj.weight", {C, c.in_channels, p, p}},
      {"x_embedder.proj.bias", {C}},
      {"t_embedder.mlp.0.weight", {C, 256}},
      {"t_embedder.mlp.0.bias", {C}},
      {"t_embedder.mlp.2.weight", {C, C}},
      {"t_embedder.mlp.2.bias", {C}},
      {"t_block.1.weight", {6 * C, C}},
      {"t_block.1.bias", {6 * C}},
      {"y_embedder.y_embedding", {c.model_max_length, c.caption_channels}},
      {"y_embedder.y_proj.fc1.weight", {C, c.caption_channels}},
      {"y_embedder.y_proj.fc1.bias", {C}},
      {"y_embedder.y_proj.fc2.weight", {C, C}},
      {"y_embedder.y_proj.fc2.bias", {C}},
  };
  for (int i = 0; i < c.depth; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    t.push_back({b + "scale_shift_table", {6, C}});
    t.push_back({b + "attn.qkv.weight", {3 * C, C}});
    t.push_back({b + "attn.qkv.bias", {3 * C}});
    t.push_back({b + "attn.proj.weight", {C, C}});
    t.push_back({b + "attn.proj.bias", {C}});
    t.push_back({b + "cross_attn.q_linear.weight", {C, C}});
    t.push_back({b + "cross_attn.q_linear.bias", {C}});
    t.push_back({b + "cross_attn.kv_linear.weight", {2 * C, C}});
    t.push_back({b + "cross_attn.kv_linear.bias", {2 * C}});
    t.push_back({b + "cross_attn.proj.weight", {C, C}});
    t.push_back({b + "cross_attn.proj.bias", {C}});
    t.push_back({b + "mlp.fc1.weight", {Hm, C}});
    t.push_back({b + "mlp.fc1.bias", {Hm}});
    t.push_back({b + "mlp.fc2.weight", {C, Hm}});
    t.push_back({b + "mlp.fc2.bias", {C}});
  }
  t.push_back({"final_layer.scale_shift_table", {2, C}});
  t.push_back({"final_layer.linear.weight", {p * p * c.out_channels, C}});
  t.push_back({"final_layer.linear.bias", {p * p * c.out_channels}});
  for (int j = 0; j < c.mamba_depth(); ++j) {
    const std::string m = "mamba_blocks." + std::to_string(j) + ".";
    const std::string x = m + "mixer.";
    t.push_back({x + "A_log", {Di, Ns}});
    t.push_back({x + "D", {Di}});
    t.push_back({x + "A_b_log", {Di, Ns}});
    t.push_back({x + "D_b", {Di}});
    t.push_back({x + "in_proj.weight", {2 * Di, C}});
    for (const char* s : {"", "_b"}) {
      const std::string sfx = s;
      t.push_back({x + "conv1d" + sfx + ".weight", {Di, 1, c.d_conv}});
      t.push_back({x + "conv1d" + sfx + ".bias", {Di}});
      t.push_back({x + "x_proj" + sfx + ".weight", {R + 2 * Ns, Di}});
      t.push_back({x + "dt_proj" + sfx + ".weight", {Di, R}});
      t.push_back({x + "dt_proj" + sfx + ".bias", {Di}});
    }
    t.push_back({x + "out_proj.weight", {C, Di}});
    t.push_back({m + "norm.weight", {C}});
  }
  return t;
}

std::vector<int> mask_to_lengths(const int64_t* mask, int B, int L) {
  std::vector<int> lens(size_t(B), L);
  if (!mask) return lens;
  for (int b = 0; b < B; ++b) {
    int n = 0;
    for (int i = 0; i < L; ++i) n += mask[int64_t(b) * L + i] != 0;
    lens[size_t(b)] = n;
  }
  return lens;
}

}  // namespace dimba
