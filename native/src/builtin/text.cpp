// The built-in model's vocabulary file, frozen T5 weights and Dimba initialisation (text.h).
#include "builtin/text.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "builtin/scenes.h"
#include "core/error.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "text/tokenizer.h"

namespace dimba::builtin {

std::vector<std::string> builtin_vocabulary() {
  std::set<std::string> w = {"a", "an", "in", "the", "middle", "at", "on", "side", "near", "background",
                             "with", "picture", "of", "against", "centre", "left", "right", "top", "bottom"};
  for (const char* s : kShapeNames) w.insert(s);
  for (const char* s : kColourNames) w.insert(s);
  for (const char* s : kSizeNames) w.insert(s);
  return {w.begin(), w.end()};
}

namespace {

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}
void put_tag(std::string& out, uint32_t field, uint32_t wire) { put_varint(out, (uint64_t(field) << 3) | wire); }
void put_bytes(std::string& out, uint32_t field, const std::string& b) {
  put_tag(out, field, 2);
  put_varint(out, b.size());
  out += b;
}
void put_float(std::string& out, uint32_t field, float f) {
  put_tag(out, field, 5);
  uint32_t u;
  std::memcpy(&u, &f, 4);
  for (int i = 0; i < 4; ++i) out.push_back(char(uint8_t(u >> (8 * i))));
}
void put_uint(std::string& out, uint32_t field, uint64_t v) {
  put_tag(out, field, 0);
  put_varint(out, v);
}

}  // namespace

std::string sentencepiece_model_bytes(const std::vector<std::string>& words) {
  // ModelProto: pieces = 1 {piece = 1, score = 2, type = 3}, trainer_spec = 2 {model_type = 3},
  // normalizer_spec = 3 {name = 1, add_dummy_prefix = 3, remove_extra_whitespaces = 4,
  // escape_whitespaces = 5} (sentencepiece_model.proto).
  std::string out;
  auto piece = [&](const std::string& p, float score, int type) {
    std::string m;
    put_bytes(m, 1, p);
    put_float(m, 2, score);
    if (type != 1) put_uint(m, 3, uint64_t(type));
    put_bytes(out, 1, m);
  };
  piece("<pad>", 0.f, 3);
  piece("</s>", 0.f, 3);
  piece("<unk>", 0.f, 2);
  const std::string sp = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space
  std::set<std::string> seen;
  for (const std::string& w : words) {
    if (w.empty() || !seen.insert(sp + w).second)
      throw EngineError(ErrorCode::InvalidArgument, "vocabulary: empty or duplicate word '" + w + "'");
    piece(sp + w, -1.f, 1);
  }
  piece(sp, -10.f, 1);
  piece(",", -10.f, 1);
  for (char c = 'a'; c <= 'z'; ++c) piece(std::string(1, c), -10.f, 1);
  std::string trainer;
  put_uint(trainer, 3, 1);  // UNIGRAM
  put_bytes(out, 2, trainer);
  std::string norm;
  put_bytes(norm, 1, "identity");
  put_uint(norm, 3, 1);
  put_uint(norm, 4, 1);
  put_uint(norm, 5, 1);
  put_bytes(out, 3, norm);
  return out;
}

T5Config builtin_t5_config(int vocab_size) {
  T5Config c;
  c.vocab_size = vocab_size;
  c.d_model = 64;
  c.d_kv = 16;
  c.num_heads = 4;
  c.d_ff = 128;
  c.num_layers = 2;
  c.validate();
  return c;
}

std::string builtin_t5_config_json(const T5Config& c) {
  return "{\"model_type\": \"t5\", \"feed_forward_proj\": \"gated-gelu\", \"vocab_size\": " +
         std::to_string(c.vocab_size) + ", \"d_model\": " + std::to_string(c.d_model) +
         ", \"d_kv\": " + std::to_string(c.d_kv) + ", \"num_heads\": " + std::to_string(c.num_heads) +
         ", \"d_ff\": " + std::to_string(c.d_ff) + ", \"num_layers\": " + std::to_string(c.num_layers) +
         ", \"layer_norm_epsilon\": 1e-6, \"relative_attention_num_buckets\": " + std::to_string(c.num_buckets) +
         ", \"relative_attention_max_distance\": " + std::to_string(c.max_distance) + "}\n";
}

namespace {
bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Cross-attention sees a caption as a set of token vectors, so "a red star on a blue
// background" and "a blue star on a red background" must differ as sets, or the Dimba cannot
// tell which colour is the object's. With plain random weights each token's output hardly
// depends on its neighbours (a word's vector moved by 1-4% between the two captions) and the
// model painted blends of both colours. The position bias makes head h look at the word
// kWordOrderOffsets[h] away, so each vector carries its neighbours: "red" next to "star"
// differs from "red" next to "background".
// q and k are scaled by kContentAttention so that content attention stays weaker than it.
constexpr int kWordOrderOffsets[] = {1, -1, 2, -2};
constexpr float kWordOrderBias = 6.0f;
constexpr float kContentAttention = 0.3f;

void word_order_bias(std::vector<float>& table, const T5Config& c) {  // table [num_buckets, H]
  for (auto& x : table) x *= 0.1f;
  const int H = c.num_heads;
  for (int h = 0; h < H; ++h) {
    const int offset = kWordOrderOffsets[size_t(h) % std::size(kWordOrderOffsets)];
    const int bucket = t5_relative_bucket(offset, c.num_buckets, c.max_distance);
    table[size_t(bucket) * size_t(H) + size_t(h)] += kWordOrderBias;
  }
}

}  // namespace

void write_builtin_text_encoder(const std::string& folder, const T5Config& c, uint64_t seed) {
  ::mkdir(folder.c_str(), 0755);
  {
    std::ofstream out(folder + "/config.json", std::ios::binary);
    out << builtin_t5_config_json(c);
    if (!out) throw EngineError(ErrorCode::Io, "cannot write " + folder + "/config.json");
  }
  std::vector<std::vector<float>> keep;
  std::map<std::string, TensorToSave> out;
  uint64_t offset = 0;
  for (const auto& [name, shape] : t5_expected_tensors(c)) {
    size_t n = 1;
    for (int64_t d : shape) n *= size_t(d);
    std::vector<float> v(n);
    fill_normal(v.data(), n, seed, offset);
    offset += n;
    if (name == "shared.weight") {
      // N(0, 1): T5's own embedding scale
    } else if (shape.size() == 1) {
      for (auto& x : v) x = 1.0f;  // RMSNorm weights
    } else if (name.find("relative_attention_bias") != std::string::npos) {
      word_order_bias(v, c);
    } else {
      const float sqrt_fan_in = std::sqrt(float(n / size_t(shape[0])));
      if (ends_with(name, ".q.weight") || ends_with(name, ".k.weight")) {
        for (auto& x : v) x *= kContentAttention / sqrt_fan_in;
      } else {
        for (auto& x : v) x /= sqrt_fan_in;
      }
    }
    keep.push_back(std::move(v));
    out[name] = TensorToSave{DType::F32, shape, keep.back().data()};
  }
  save_safetensors(folder + "/model.safetensors", out, {{"format", "pt"}, {"seed", std::to_string(seed)}});
}

DimbaConfig builtin_dimba_config(int caption_channels, int max_length, int patch, int hidden) {
  DimbaConfig c;
  c.depth = 4;
  c.hidden_size = hidden;
  c.num_heads = 4;
  c.patch_size = patch;
  c.in_channels = 3;
  c.out_channels = 6;
  c.caption_channels = caption_channels;
  c.model_max_length = max_length;
  c.mamba_ratio = 1.0;
  c.pe_interpolation = 1.0;
  c.input_size = 32;
  c.prediction = DimbaConfig::Prediction::Sample;
  c.validate();
  return c;
}

std::string builtin_dimba_config_json(const DimbaConfig& c) {
  char buf[640];
  std::snprintf(buf, sizeof buf,
                "{\"depth\": %d, \"hidden_size\": %d, \"num_heads\": %d, \"patch_size\": %d, \"in_channels\": %d, "
                "\"out_channels\": %d, \"caption_channels\": %d, \"model_max_length\": %d, \"mamba_ratio\": %g, "
                "\"pe_interpolation\": %g, \"input_size\": %d, \"d_state\": %d, \"d_conv\": %d, \"expand\": %d, "
                "\"mlp_ratio\": %g, \"prediction_type\": \"%s\"}\n",
                c.depth, c.hidden_size, c.num_heads, c.patch_size, c.in_channels, c.out_channels, c.caption_channels,
                c.model_max_length, c.mamba_ratio, c.pe_interpolation, c.input_size, c.d_state, c.d_conv, c.expand,
                c.mlp_ratio, prediction_type_name(c.prediction));
  return buf;
}

void write_builtin_parts(const std::string& dir, uint64_t seed, const DimbaConfig& cfg) {
  ::mkdir(dir.c_str(), 0755);
  auto write = [](const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
    if (!out) throw EngineError(ErrorCode::Io, "cannot write " + path);
  };
  const std::string spiece = sentencepiece_model_bytes(builtin_vocabulary());
  write(dir + "/spiece.model", spiece);
  const int vocab = Tokenizer::from_bytes(spiece).vocab_size();
  write_builtin_text_encoder(dir + "/t5", builtin_t5_config(vocab), seed ^ 0x75u);
  write(dir + "/dimba.json", builtin_dimba_config_json(cfg));
}

ParamSet builtin_dimba_init(const DimbaConfig& cfg, uint64_t seed) {
  ParamSet p = ParamSet::zeros_like_config(cfg);
  uint64_t offset = 0;
  for (size_t i = 0; i < p.count(); ++i) {
    const std::string& name = p.names[i];
    const auto& shape = p.shapes[i];
    const size_t n = p.numel(i);
    float* v = p.at(i);
    fill_normal(v, n, seed, offset);
    offset += n;
    if (ends_with(name, "A_log") || ends_with(name, "A_b_log")) {
      for (size_t k = 0; k < n; ++k) v[k] = std::log(float(k % size_t(shape.back()) + 1));
    } else if (ends_with(name, ".D") || ends_with(name, ".D_b") || ends_with(name, "norm.weight")) {
      for (size_t k = 0; k < n; ++k) v[k] = 1.0f;
    } else if (name.find("dt_proj") != std::string::npos && ends_with(name, ".bias")) {
      for (size_t k = 0; k < n; ++k) {
        const double u = 0.5 + 0.5 * std::erf(double(v[k]) / std::sqrt(2.0));  // normal -> uniform
        const double dt = std::exp(std::log(1e-3) + u * (std::log(1e-1) - std::log(1e-3)));
        v[k] = float(dt + std::log(-std::expm1(-dt)));  // inverse softplus
      }
    } else if (name == "t_block.1.weight" || name.rfind("final_layer.linear", 0) == 0) {
      for (size_t k = 0; k < n; ++k) v[k] = 0.0f;
    } else if (ends_with(name, "scale_shift_table") || name == "y_embedder.y_embedding") {
      const float s = 1.0f / std::sqrt(float(shape.back()));
      for (size_t k = 0; k < n; ++k) v[k] *= s;
    } else if (shape.size() >= 2) {
      const float fan_in = float(n / size_t(shape[0]));
      const float s = 1.0f / std::sqrt(fan_in);
      for (size_t k = 0; k < n; ++k) v[k] *= s;
    } else {
      for (size_t k = 0; k < n; ++k) v[k] = 0.0f;  // biases
    }
  }
  return p;
}

}  // namespace dimba::builtin
