// The T5-v1.1 encoder that conditions Dimba (T5-v1.1-XXL: 24 layers, d_model 4096, 64 heads of
// 64, d_ff 10240, 4.76B parameters), exactly as ../shared/spec/MODEL.md section 4 specifies:
// pre-norm RMSNorm (no mean, no bias), attention without 1/sqrt(d) scaling, the relative
// position bias of layer 0 reused by every layer, padding keys masked (outputs at padding
// positions still computed), gated GELU(tanh) feed-forward, a final RMSNorm. Activations are
// always f32 (T5 overflows in f16); weights are f32, bf16 (XXL: 9.5 GB) or int8 with one scale
// per output channel (XXL: about 4.8 GB, quantised at load).
//
//   T5Encoder enc = T5Encoder::load_pretrained("/models/t5-v1_1-xxl", T5WeightFormat::BF16);
//   enc.forward(out /*[B, L, d_model]*/, ids /*[B, L]*/, mask /*[B, L]*/, B, L);
//
// Files: t5_encoder_config.cpp (config, expected tensors, bucket function),
// t5_encoder_weights.cpp (binding, validation, int8 quantisation, fingerprint),
// t5_encoder.cpp (the forward pass).
// defines: T5Config, T5WeightFormat, T5Linear, T5LayerWeights, T5Weights, T5Encoder,
//          t5_weight_format_name, t5_relative_bucket, t5_position_bias, t5_expected_tensors,
//          t5_load_checkpoint
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "core/arena.h"
#include "core/dtype.h"
#include "io/checkpoint.h"

namespace dimba {

struct T5Config {
  int vocab_size = 32128;
  int d_model = 4096;   // D
  int d_kv = 64;        // per-head width
  int d_ff = 10240;     // F
  int num_layers = 24;
  int num_heads = 64;   // H
  int num_buckets = 32;     // relative_attention_num_buckets
  int max_distance = 128;   // relative_attention_max_distance
  double eps = 1e-6;        // layer_norm_epsilon

  // A transformers T5Config (config.json). Only the gated-gelu feed-forward of T5 v1.1 is
  // supported (UnsupportedFormat otherwise); missing keys keep the XXL values. Throws
  // InvalidArgument on absurd values.
  static T5Config from_json(const nlohmann::json& j);
  static T5Config xxl();
  void validate() const;  // InvalidArgument naming the bad field

  int inner() const { return num_heads * d_kv; }  // width of q, k, v
};

enum class T5WeightFormat { F32, BF16, Int8 };
const char* t5_weight_format_name(T5WeightFormat f);  // "f32", "bf16", "int8"

// A Linear weight [out, in]: F32/BF16 rows for linear_forward, or int8 rows with per-row
// scales for linear_int8_forward (scale non-null).
struct T5Linear {
  const void* data = nullptr;  // (out, in)
  DType dtype = DType::F32;    // F32 / BF16; U8 slot holds int8 when scale is set
  const float* scale = nullptr;  // (out), int8 only
};

struct T5LayerWeights {  // encoder.block.i
  const float* attn_norm = nullptr;  // (D)        layer.0.layer_norm.weight
  T5Linear q, k, v;                  // (inner, D) layer.0.SelfAttention.{q,k,v}.weight
  T5Linear o;                        // (D, inner) layer.0.SelfAttention.o.weight
  const float* ff_norm = nullptr;    // (D)        layer.1.layer_norm.weight
  T5Linear wi_0, wi_1;               // (F, D)     layer.1.DenseReluDense.wi_{0,1}.weight
  T5Linear wo;                       // (D, F)     layer.1.DenseReluDense.wo.weight
};

struct T5Weights {
  const void* embed = nullptr;  // (vocab, D) shared.weight as stored: F32, or BF16 when stored so
  DType embed_dtype = DType::F32;
  const float* rel_bias = nullptr;  // (num_buckets, H) block 0's relative_attention_bias
  std::vector<T5LayerWeights> layers;  // num_layers
  const float* final_norm = nullptr;   // (D) encoder.final_layer_norm.weight
};

// MODEL.md 4: the bidirectional bucket of rel = key_pos - query_pos.
int t5_relative_bucket(int rel, int num_buckets, int max_distance);
// bias [H, T, T]: bias[h, i, j] = table[bucket(j - i), h] for table [num_buckets, H].
void t5_position_bias(float* bias, const float* table, int H, int T, int num_buckets, int max_distance);

// The tensors an encoder checkpoint holds for cfg, with shapes (the embedding named
// shared.weight; encoder.embed_tokens.weight is accepted in its place).
std::vector<std::pair<std::string, std::vector<int64_t>>> t5_expected_tensors(const T5Config& cfg);

// load_checkpoint restricted to the encoder ("shared.", "encoder."): a full T5 checkpoint's
// decoder tensors (and shards holding only them) are never read.
Checkpoint t5_load_checkpoint(const std::string& path);

class T5Encoder {
 public:
  // Binds ckpt's tensors by their Hugging Face names; decoder.* and lm_head.* are ignored.
  // BF16/F32 weights stored in that dtype are used in place (the checkpoint's storage is kept
  // alive); others are converted, int8 is quantised row by row. The embedding table keeps its
  // stored precision (bf16 stays bf16, f32 stays f32) in every format. Throws ModelMismatch listing
  // EVERY missing, unexpected, mis-shaped or non-float tensor.
  static T5Encoder load(const Checkpoint& ckpt, const T5Config& cfg, T5WeightFormat format,
                        const Backend& backend = cpu_backend());
  // A Hugging Face folder (config.json + safetensors or pytorch_model*.bin, sharded or not),
  // or a config.json path's folder.
  static T5Encoder load_pretrained(const std::string& folder, T5WeightFormat format,
                                   const Backend& backend = cpu_backend());
  // Weights bound by the caller (benchmarks build random XXL weights directly in bf16/int8);
  // `storage` keeps them alive; `weights_id` identifies them in embedding-cache keys.
  static T5Encoder from_weights(const T5Config& cfg, T5WeightFormat format, T5Weights w,
                                std::vector<std::shared_ptr<void>> storage, std::string weights_id,
                                const Backend& backend = cpu_backend());

  // out [B, L, D] from ids [B, L] (0 <= id < vocab) and mask [B, L] (nonzero = real token;
  // null: all real). Every position is computed, padding included. Not reentrant (one
  // activation arena); runs with FTZ/DAZ on. Throws InvalidArgument on bad ids or sizes.
  void forward(float* out, const int32_t* ids, const int32_t* mask, int B, int L);

  const T5Config& config() const { return cfg_; }
  T5WeightFormat format() const { return format_; }
  size_t weight_bytes() const { return weight_bytes_; }       // bound tensors, as stored
  size_t arena_peak_bytes() const { return arena_->peak(); }  // activations, most at once
  // "t5:<format>:fnv1a64:<hex>" over config, names, shapes, dtypes and sampled bytes of every
  // bound tensor: the weights part of embedding-cache keys (sampled, not a full hash, so that
  // a 9.5 GB checkpoint is not read twice at load).
  const std::string& weights_id() const { return weights_id_; }
  uint64_t forward_calls() const { return forward_calls_.load(); }

  T5Encoder(T5Encoder&& o) noexcept;
  T5Encoder& operator=(T5Encoder&& o) noexcept;
  T5Encoder(const T5Encoder&) = delete;
  T5Encoder& operator=(const T5Encoder&) = delete;

 private:
  T5Encoder() = default;
  T5Config cfg_;
  T5WeightFormat format_ = T5WeightFormat::F32;
  const Backend* be_ = nullptr;
  T5Weights w_;
  size_t weight_bytes_ = 0;
  std::string weights_id_;
  std::vector<std::shared_ptr<void>> storage_;  // converted tensors and the checkpoint's buffers
  std::unique_ptr<Arena> arena_;
  std::atomic<uint64_t> forward_calls_{0};
};

}  // namespace dimba
