// Binding a checkpoint's tensors to T5Weights. One pass validates every expected name, shape
// and dtype and collects ALL problems into one ModelMismatch (a user fixing a checkpoint sees
// the whole list at once); a second binds: Linear weights in the chosen format (in place when
// already stored so, else converted; int8 quantised row by row from any float dtype, so XXL
// never exists as f32 in memory), small tensors as f32, the embedding as f32 or bf16.
// decoder.* and lm_head.* of a full T5 checkpoint are ignored without being read.
// On a backend whose memory is not the host's, every tensor but the embedding is then copied
// into device memory (place_on_backend) and the host copies are dropped; the embedding stays
// a host lookup table (the forward gathers a prompt's rows and uploads them).
// defines: T5Encoder::load, T5Encoder::load_pretrained, T5Encoder::from_weights, t5_load_checkpoint
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "core/error.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "io/json.h"
#include "io/load_checkpoint.h"
#include "models/backend_io.h"
#include "models/model_files.h"
#include "models/t5_encoder.h"

namespace dimba {
namespace {

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// Names a full T5 (encoder-decoder) checkpoint holds that the encoder never uses.
bool ignored_name(const std::string& name) { return starts_with(name, "decoder.") || starts_with(name, "lm_head."); }

// The embedding's name in this checkpoint: shared.weight, else encoder.embed_tokens.weight
// (T5EncoderModel checkpoints may hold either; full ones hold both, tied).
const char* embed_name(const Checkpoint& ck) {
  if (ck.find("shared.weight")) return "shared.weight";
  if (ck.find("encoder.embed_tokens.weight")) return "encoder.embed_tokens.weight";
  return nullptr;
}

void validate(const Checkpoint& ck, const T5Config& cfg) {
  TensorListCheck check;
  for (const auto& [name, shape] : t5_expected_tensors(cfg)) {
    if (name != "shared.weight") {
      check.expect(ck, name, shape);
      continue;
    }
    const char* en = embed_name(ck);
    check.expect(ck, en ? en : "shared.weight", shape, en ? "" : " (or encoder.embed_tokens.weight)");
    // A tied copy is checked too: a checkpoint whose two embeddings disagree in shape is broken.
    if (en && std::string(en) == "shared.weight" && ck.find("encoder.embed_tokens.weight"))
      check.expect(ck, "encoder.embed_tokens.weight", shape);
  }
  check.unexpected_rest(ck, ignored_name);
  check.throw_if_any("the T5 encoder config (" + std::to_string(cfg.num_layers) + " layers, d_model " +
                     std::to_string(cfg.d_model) + ", d_ff " + std::to_string(cfg.d_ff) + ")");
}

// FNV-1a 64 (the same family as Tokenizer::content_hash).
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void bytes(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  void str(const std::string& s) { bytes(s.data(), s.size() + 1); }
  void i64(int64_t v) { bytes(&v, sizeof v); }
};

// Names, shapes, dtypes and 64 evenly spaced 64-byte samples of each tensor: enough to tell
// two checkpoints apart (a fine-tune changes every tensor) without reading 9.5 GB at load.
void fingerprint_entry(Fnv& f, const std::string& name, const TensorEntry& e) {
  f.str(name);
  f.i64(int64_t(e.dtype));
  for (int64_t d : e.shape) f.i64(d);
  const size_t n = e.nbytes, chunk = 64, samples = 64;
  if (n <= chunk * samples) {
    f.bytes(e.data, n);
    return;
  }
  for (size_t s = 0; s < samples; ++s) {
    size_t off = (n - chunk) / (samples - 1) * s;
    f.bytes(e.data + off, chunk);
  }
}

std::string hex64(uint64_t v) {
  static const char* d = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[size_t(i)] = d[v & 15];
  return s;
}

struct Binder {
  const Checkpoint& ck;
  T5WeightFormat format;
  std::vector<std::shared_ptr<void>>& storage;
  size_t bytes = 0;
  bool in_place = false;  // some tensor points into the checkpoint's storage

  const TensorEntry& entry(const std::string& name) {
    const TensorEntry* e = ck.find(name);
    DIMBA_CHECK(e != nullptr);  // validated before binding
    return *e;
  }

  // The tensor in f32 or bf16 (dtype), in place when already stored so.
  const void* as_float(const TensorEntry& e, DType dtype) {
    const size_t n = e.nbytes / dtype_size(e.dtype);
    bytes += n * dtype_size(dtype);
    if (e.dtype == dtype && reinterpret_cast<uintptr_t>(e.data) % dtype_size(dtype) == 0) {
      in_place = true;
      return e.data;
    }
    auto mem = aligned_alloc_shared(n * dtype_size(dtype));
    if (dtype == DType::F32) {
      convert_to_f32(static_cast<float*>(mem.get()), e.data, e.dtype, n);
    } else if (e.dtype == DType::F32) {
      convert_from_f32(mem.get(), dtype, reinterpret_cast<const float*>(e.data), n);
    } else {  // f16 -> bf16 (or a misaligned bf16 copy) through f32, 64K values at a time
      std::vector<float> tmp(std::min<size_t>(n, 65536));
      for (size_t i = 0; i < n; i += tmp.size()) {
        size_t k = std::min(tmp.size(), n - i);
        convert_to_f32(tmp.data(), e.data + i * dtype_size(e.dtype), e.dtype, k);
        convert_from_f32(static_cast<uint8_t*>(mem.get()) + i * 2, dtype, tmp.data(), k);
      }
    }
    storage.push_back(mem);
    return mem.get();
  }

  // Quantised per output row; rows widened to f32 one at a time per thread.
  T5Linear int8(const TensorEntry& e) {
    const int rows = int(e.shape[0]), K = int(e.shape[1]);
    auto q = aligned_alloc_shared(size_t(rows) * K);
    auto scale = aligned_alloc_shared(size_t(rows) * sizeof(float));
    int8_t* qp = static_cast<int8_t*>(q.get());
    float* sp = static_cast<float*>(scale.get());
    const size_t esz = dtype_size(e.dtype);
    ThreadPool::global().parallel_for(rows, [&](int64_t r0, int64_t r1) {
      std::vector<float> row(static_cast<size_t>(K));
      for (int64_t r = r0; r < r1; ++r) {
        convert_to_f32(row.data(), e.data + size_t(r) * K * esz, e.dtype, size_t(K));
        cpu::quantize_rows_int8(qp + r * K, sp + r, row.data(), 1, K);
      }
    }, 64);
    storage.push_back(q);
    storage.push_back(scale);
    bytes += size_t(rows) * K + size_t(rows) * sizeof(float);
    return {qp, DType::U8, sp};
  }

  T5Linear linear(const std::string& name) {
    const TensorEntry& e = entry(name);
    switch (format) {
      case T5WeightFormat::F32: return {as_float(e, DType::F32), DType::F32, nullptr};
      case T5WeightFormat::BF16: return {as_float(e, DType::BF16), DType::BF16, nullptr};
      case T5WeightFormat::Int8: return int8(e);
    }
    DIMBA_CHECK(false);
    return {};
  }
  const float* f32(const std::string& name) { return static_cast<const float*>(as_float(entry(name), DType::F32)); }
};

// Every tensor of `w` but the embedding into `placer`'s backend (sizes from the config).
void place_on_backend(T5Weights& w, const T5Config& cfg, WeightPlacer& placer) {
  const size_t D = size_t(cfg.d_model), I = size_t(cfg.inner()), F = size_t(cfg.d_ff);
  auto lin = [&](T5Linear& l, size_t rows, size_t cols) {
    if (l.scale) {  // int8 rows and their scales
      l.data = placer.place(l.data, rows * cols);
      l.scale = placer.place_f32(l.scale, rows);
    } else {
      l.data = placer.place(l.data, rows * cols * dtype_size(l.dtype));
    }
  };
  w.rel_bias = placer.place_f32(w.rel_bias, size_t(cfg.num_buckets) * size_t(cfg.num_heads));
  for (T5LayerWeights& l : w.layers) {
    l.attn_norm = placer.place_f32(l.attn_norm, D);
    l.ff_norm = placer.place_f32(l.ff_norm, D);
    for (T5Linear* x : {&l.q, &l.k, &l.v}) lin(*x, I, D);
    lin(l.o, D, I);
    lin(l.wi_0, F, D);
    lin(l.wi_1, F, D);
    lin(l.wo, D, F);
  }
  w.final_norm = placer.place_f32(w.final_norm, D);
}

}  // namespace

Checkpoint t5_load_checkpoint(const std::string& path) {
  LoadOptions opt;
  opt.prefixes = {"shared.", "encoder."};
  return load_checkpoint(path, opt);
}

T5Encoder::T5Encoder(T5Encoder&& o) noexcept
    : cfg_(o.cfg_),
      format_(o.format_),
      be_(o.be_),
      w_(std::move(o.w_)),
      weight_bytes_(o.weight_bytes_),
      weights_id_(std::move(o.weights_id_)),
      storage_(std::move(o.storage_)),
      arena_(std::move(o.arena_)),
      forward_calls_(o.forward_calls_.load()) {}

T5Encoder& T5Encoder::operator=(T5Encoder&& o) noexcept {
  cfg_ = o.cfg_;
  format_ = o.format_;
  be_ = o.be_;
  w_ = std::move(o.w_);
  weight_bytes_ = o.weight_bytes_;
  weights_id_ = std::move(o.weights_id_);
  storage_ = std::move(o.storage_);
  arena_ = std::move(o.arena_);
  forward_calls_ = o.forward_calls_.load();
  return *this;
}

T5Encoder T5Encoder::load(const Checkpoint& ckpt, const T5Config& cfg, T5WeightFormat format, const Backend& backend) {
  cfg.validate();
  validate(ckpt, cfg);

  T5Encoder m;
  m.cfg_ = cfg;
  m.format_ = format;
  m.be_ = &backend;
  m.arena_ = backend_arena(backend);
  std::vector<std::shared_ptr<void>> host;  // converted copies; host[0] is the embedding's, if it has one
  Binder bd{ckpt, format, host};
  T5Weights& w = m.w_;
  const std::string emb = embed_name(ckpt);
  // The embedding is a lookup table, not a GEMM operand: it stays as stored (f16 widened to
  // f32), used in place, so only the rows a prompt touches are ever paged in. Rounding it to
  // bf16 would add error for no speed: on t5-tiny it alone costs 1.2e-2 of the 2e-2 budget.
  const TensorEntry& ee = bd.entry(emb);
  w.embed_dtype = ee.dtype == DType::BF16 && format != T5WeightFormat::F32 ? DType::BF16 : DType::F32;
  w.embed = bd.as_float(ee, w.embed_dtype);
  const bool embed_in_place = host.empty();
  w.rel_bias = bd.f32("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
  for (int i = 0; i < cfg.num_layers; ++i) {
    const std::string p = "encoder.block." + std::to_string(i) + ".layer.";
    T5LayerWeights l;
    l.attn_norm = bd.f32(p + "0.layer_norm.weight");
    l.q = bd.linear(p + "0.SelfAttention.q.weight");
    l.k = bd.linear(p + "0.SelfAttention.k.weight");
    l.v = bd.linear(p + "0.SelfAttention.v.weight");
    l.o = bd.linear(p + "0.SelfAttention.o.weight");
    l.ff_norm = bd.f32(p + "1.layer_norm.weight");
    l.wi_0 = bd.linear(p + "1.DenseReluDense.wi_0.weight");
    l.wi_1 = bd.linear(p + "1.DenseReluDense.wi_1.weight");
    l.wo = bd.linear(p + "1.DenseReluDense.wo.weight");
    w.layers.push_back(l);
  }
  w.final_norm = bd.f32("encoder.final_layer_norm.weight");
  m.weight_bytes_ = bd.bytes;
  // Keep the checkpoint's mappings only when something points into them: an int8 or
  // converted encoder then holds just its own copies. Off the host, only the embedding is read
  // from host memory.
  if (backend.host_memory) {
    m.storage_ = std::move(host);
    if (bd.in_place) m.storage_.insert(m.storage_.end(), ckpt.storage.begin(), ckpt.storage.end());
  } else {
    WeightPlacer placer(backend, m.storage_);
    place_on_backend(w, cfg, placer);
    if (embed_in_place)
      m.storage_.insert(m.storage_.end(), ckpt.storage.begin(), ckpt.storage.end());
    else
      m.storage_.push_back(host[0]);
  }

  Fnv f;
  f.str(t5_weight_format_name(format));
  for (int v : {cfg.vocab_size, cfg.d_model, cfg.d_kv, cfg.d_ff, cfg.num_layers, cfg.num_heads, cfg.num_buckets,
                cfg.max_distance})
    f.i64(v);
  f.bytes(&cfg.eps, sizeof cfg.eps);
  for (const auto& [name, shape] : t5_expected_tensors(cfg)) {
    const std::string n = name == "shared.weight" ? emb : name;
    fingerprint_entry(f, n, bd.entry(n));
  }
  m.weights_id_ = std::string("t5:") + t5_weight_format_name(format) + ":fnv1a64:" + hex64(f.h);
  return m;
}

T5Encoder T5Encoder::load_pretrained(const std::string& path, T5WeightFormat format, const Backend& backend) {
  // A config.json path names its folder; a folder holds config.json and the weights.
  std::string folder = path;
  const std::string suffix = "config.json";
  if (folder.size() >= suffix.size() && folder.compare(folder.size() - suffix.size(), suffix.size(), suffix) == 0) {
    folder = folder.substr(0, folder.size() - suffix.size());
    if (folder.empty()) folder = ".";
  }
  struct stat st;
  if (::stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    throw EngineError(ErrorCode::Io, "T5: " + path + " is not a model folder (config.json + weights)");
  const std::string cfg_path = folder + "/config.json";
  T5Config cfg = T5Config::from_json(parse_json_untrusted(read_text_file(cfg_path), cfg_path));
  Checkpoint ck = t5_load_checkpoint(folder);
  return load(ck, cfg, format, backend);
}

T5Encoder T5Encoder::from_weights(const T5Config& cfg, T5WeightFormat format, T5Weights w,
                                  std::vector<std::shared_ptr<void>> storage, std::string weights_id,
                                  const Backend& backend) {
  cfg.validate();
  if (int(w.layers.size()) != cfg.num_layers || !w.embed || !w.rel_bias || !w.final_norm)
    throw EngineError(ErrorCode::InvalidArgument, "T5Encoder::from_weights: weights incomplete for the config");
  T5Encoder m;
  m.cfg_ = cfg;
  m.format_ = format;
  m.be_ = &backend;
  m.arena_ = backend_arena(backend);
  m.w_ = std::move(w);
  m.storage_ = std::move(storage);
  if (!backend.host_memory) {  // the host copies stay in storage_: the caller's embedding is among them
    WeightPlacer placer(backend, m.storage_);
    place_on_backend(m.w_, cfg, placer);
  }
  m.weights_id_ = std::move(weights_id);
  const int64_t D = cfg.d_model, I = cfg.inner(), F = cfg.d_ff;
  const size_t per_param = format == T5WeightFormat::F32 ? 4 : format == T5WeightFormat::BF16 ? 2 : 1;
  const int64_t linear = cfg.num_layers * (4 * D * I + 3 * D * F);
  m.weight_bytes_ = size_t(linear) * per_param + size_t(cfg.vocab_size) * D * dtype_size(m.w_.embed_dtype);
  return m;
}

}  // namespace dimba
