// T5 encoder configuration: parsing a transformers T5Config (config.json), the XXL preset,
// sanity limits, the expected tensor list (names from golden/t5-v1_1-xxl-encoder.keys.json)
// and the relative-position bucket function of MODEL.md section 4.
// defines: T5Config::from_json, T5Config::xxl, T5Config::validate, t5_weight_format_name,
//          t5_relative_bucket, t5_position_bias, t5_expected_tensors
#include <cmath>
#include <vector>

#include "core/error.h"
#include "models/model_files.h"
#include "models/t5_encoder.h"

namespace dimba {
namespace {

const ConfigReader kConfig{"T5 config"};


}  // namespace

const char* t5_weight_format_name(T5WeightFormat f) {
  switch (f) {
    case T5WeightFormat::F32: return "f32";
    case T5WeightFormat::BF16: return "bf16";
    case T5WeightFormat::Int8: return "int8";
  }
  return "?";
}

T5Config T5Config::from_json(const nlohmann::json& j) {
  if (!j.is_object()) kConfig.bad("not a JSON object");
  if (j.contains("model_type") && j["model_type"] != "t5" && j["model_type"] != "umt5")
    throw EngineError(ErrorCode::UnsupportedFormat, "T5 config: model_type is not t5");
  // T5 v1.1 (and Dimba's XXL) use the gated GELU; v1.0's "relu" has a single wi and would bind
  // different tensors, so it is refused rather than half-supported.
  if (j.contains("feed_forward_proj")) {
    const auto& f = j["feed_forward_proj"];
    if (!f.is_string() || (f.get<std::string>() != "gated-gelu" && f.get<std::string>() != "gated-gelu_new"))
      throw EngineError(ErrorCode::UnsupportedFormat,
                        "T5 config: feed_forward_proj " + f.dump() + " is not supported (only gated-gelu, T5 v1.1)");
  }
  T5Config c;
  c.vocab_size = kConfig.get_int(j, "vocab_size", c.vocab_size);
  c.d_model = kConfig.get_int(j, "d_model", c.d_model);
  c.d_kv = kConfig.get_int(j, "d_kv", c.d_kv);
  c.d_ff = kConfig.get_int(j, "d_ff", c.d_ff);
  c.num_layers = kConfig.get_int(j, "num_layers", c.num_layers);
  c.num_heads = kConfig.get_int(j, "num_heads", c.num_heads);
  c.num_buckets = kConfig.get_int(j, "relative_attention_num_buckets", c.num_buckets);
  c.max_distance = kConfig.get_int(j, "relative_attention_max_distance", c.max_distance);
  c.eps = kConfig.get_num(j, "layer_norm_epsilon", c.eps);
  c.validate();
  return c;
}

T5Config T5Config::xxl() { return T5Config{}; }  // the defaults are T5-v1.1-XXL

void T5Config::validate() const {
  kConfig.check_range("vocab_size", vocab_size, 1, 1 << 22);
  kConfig.check_range("d_model", d_model, 1, 65536);
  kConfig.check_range("d_kv", d_kv, 1, 4096);
  kConfig.check_range("d_ff", d_ff, 1, 1 << 18);
  kConfig.check_range("num_layers", num_layers, 1, 256);
  kConfig.check_range("num_heads", num_heads, 1, 1024);
  kConfig.check_range("relative_attention_num_buckets", num_buckets, 4, 4096);
  // The bucket formula needs max_exact = num_buckets/4 < max_distance (a log of their ratio).
  kConfig.check_range("relative_attention_max_distance", max_distance, num_buckets / 4 + 1, 1 << 20);
  kConfig.check_range("layer_norm_epsilon", eps, 0.0, 1.0);
  if (double(num_heads) * d_kv > 65536) kConfig.bad("num_heads * d_kv too large");
}

int t5_relative_bucket(int rel, int num_buckets, int max_distance) {
  // transformers' T5Attention._relative_position_bucket, bidirectional: half the buckets for
  // keys after the query; within a half, exact buckets below max_exact, then logarithmic up
  // to max_distance, clipped to the last bucket. The log is taken in double; for the standard
  // 32/128 the reference's float32 log lands on the same integers at every distance (only
  // 8 <= n < 128 reach the log unclipped, and none sits on a rounding edge).
  const int nb = num_buckets / 2;
  int b = rel > 0 ? nb : 0;
  const int n = rel < 0 ? -rel : rel;
  const int max_exact = nb / 2;
  if (n < max_exact) return b + n;
  const double f = std::log(double(n) / max_exact) / std::log(double(max_distance) / max_exact) * (nb - max_exact);
  const int large = max_exact + int(f);
  return b + (large < nb - 1 ? large : nb - 1);
}

void t5_position_bias(float* bias, const float* table, int H, int T, int num_buckets, int max_distance) {
  // Buckets depend only on j - i: compute them once per distance.
  std::vector<int> bucket_of(size_t(2 * T > 0 ? 2 * T - 1 : 0));
  for (int d = -(T - 1); d <= T - 1; ++d) bucket_of[size_t(d + T - 1)] = t5_relative_bucket(d, num_buckets, max_distance);
  for (int h = 0; h < H; ++h)
    for (int i = 0; i < T; ++i) {
      float* row = bias + (int64_t(h) * T + i) * T;
      for (int j = 0; j < T; ++j) row[j] = table[int64_t(bucket_of[size_t(j - i + T - 1)]) * H + h];
    }
}

std::vector<std::pair<std::string, std::vector<int64_t>>> t5_expected_tensors(const T5Config& c) {
  const int64_t D = c.d_model, I = c.inner(), F = c.d_ff;
  std::vector<std::pair<std::string, std::vector<int64_t>>> t;
  t.push_back({"shared.weight", {c.vocab_size, D}});
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = "encoder.block." + std::to_string(i) + ".layer.";
    t.push_back({p + "0.SelfAttention.q.weight", {I, D}});
    t.push_back({p + "0.SelfAttention.k.weight", {I, D}});
    t.push_back({p + "0.SelfAttention.v.weight", {I, D}});
    t.push_back({p + "0.SelfAttention.o.weight", {D, I}});
    if (i == 0) t.push_back({p + "0.SelfAttention.relative_attention_bias.weight", {c.num_buckets, c.num_heads}});
    t.push_back({p + "0.layer_norm.weight", {D}});
    t.push_back({p + "1.DenseReluDense.wi_0.weight", {F, D}});
    t.push_back({p + "1.DenseReluDense.wi_1.weight", {F, D}});
    t.push_back({p + "1.DenseReluDense.wo.weight", {D, F}});
    t.push_back({p + "1.layer_norm.weight", {D}});
  }
  t.push_back({"encoder.final_layer_norm.weight", {D}});
  return t;
}

}  // namespace dimba
