// Binding a checkpoint's tensors to DimbaWeights: one pass validates every expected name,
// shape and dtype and collects ALL problems into one ModelMismatch error (a user fixing a
// checkpoint sees the whole list at once); a second pass binds Linear weights in the chosen
// dtype (in place when already stored so) and small tensors as f32, each placed in the
// backend's memory (models/backend_io.h: the host pointer itself on CPU, a device copy elsewhere).
// defines: DimbaModel::load, DimbaModel::load_file
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "core/error.h"
#include "core/tensor.h"
#include "io/load_checkpoint.h"
#include "models/backend_io.h"
#include "models/dimba.h"
#include "models/model_files.h"

namespace dimba {
namespace {


struct Binder {
  const Checkpoint& ck;
  DType wdtype;
  std::vector<std::shared_ptr<void>>& storage;  // host copies the model reads (CPU) or drops after placing
  WeightPlacer& placer;
  size_t bytes = 0;

  const TensorEntry& entry(const std::string& name) {
    const TensorEntry* e = ck.find(name);
    DIMBA_CHECK(e != nullptr);  // validated before binding
    return *e;
  }
  // A Linear weight in wdtype.
  Weight linear(const std::string& name) {
    const TensorEntry& e = entry(name);
    size_t n = e.nbytes / dtype_size(e.dtype);
    bytes += n * dtype_size(wdtype);
    if (e.dtype == wdtype) return {placer.place(e.data, e.nbytes), wdtype};
    auto mem = aligned_alloc_shared(n * dtype_size(wdtype));
    if (wdtype == DType::F32) {
      convert_to_f32(static_cast<float*>(mem.get()), e.data, e.dtype, n);
    } else if (e.dtype == DType::F32) {
      convert_from_f32(mem.get(), wdtype, reinterpret_cast<const float*>(e.data), n);
    } else {  // f16 <-> bf16 through f32, a row of 64K at a time
      std::vector<float> tmp(std::min<size_t>(n, 65536));
      for (size_t i = 0; i < n; i += tmp.size()) {
        size_t k = std::min(tmp.size(), n - i);
        convert_to_f32(tmp.data(), e.data + i * 2, e.dtype, k);
        convert_from_f32(static_cast<uint8_t*>(mem.get()) + i * 2, wdtype, tmp.data(), k);
      }
    }
    storage.push_back(mem);
    return {placer.place(mem.get(), n * dtype_size(wdtype)), wdtype};
  }
  // A small tensor as f32 (biases, norms, tables, conv taps, D).
  const float* f32(const std::string& name) {
    const TensorEntry& e = entry(name);
    size_t n = e.nbytes / dtype_size(e.dtype);
    bytes += n * 4;
    if (e.dtype == DType::F32 && reinterpret_cast<uintptr_t>(e.data) % 4 == 0)
      return placer.place_f32(reinterpret_cast<const float*>(e.data), n);
    auto mem = aligned_alloc_shared(n * 4);
    convert_to_f32(static_cast<float*>(mem.get()), e.data, e.dtype, n);
    storage.push_back(mem);
    return placer.place_f32(static_cast<const float*>(mem.get()), n);
  }
  // A = -exp(A_log), f32 (MODEL.md 2: A = -exp(A_log)).
  const float* neg_exp(const std::string& name) {
    const TensorEntry& e = entry(name);
    size_t n = e.nbytes / dtype_size(e.dtype);
    bytes += n * 4;
    auto mem = aligned_alloc_shared(n * 4);
    float* a = static_cast<float*>(mem.get());
    convert_to_f32(a, e.data, e.dtype, n);
    for (size_t i = 0; i < n; ++i) a[i] = float(-std::exp(double(a[i])));
    storage.push_back(mem);
    return placer.place_f32(a, n);
  }
  const float* ones(size_t n) {  // not a bound tensor: not in `bytes`
    auto mem = aligned_alloc_shared(n * 4);
    std::fill_n(static_cast<float*>(mem.get()), n, 1.0f);
    storage.push_back(mem);
    return placer.place_f32(static_cast<const float*>(mem.get()), n);
  }
};

void validate(const Checkpoint& ck, const DimbaConfig& cfg) {
  TensorListCheck check;
  for (const auto& [name, shape] : dimba_expected_tensors(cfg)) check.expect(ck, name, shape);
  // pos_embed is recomputed for every (h, w): MODEL.md 2.2
  check.unexpected_rest(ck, [](const std::string& name) { return name == "pos_embed"; });
  check.throw_if_any("the Dimba config (depth " + std::to_string(cfg.depth) + ", hidden " +
                     std::to_string(cfg.hidden_size) + ")");
}

}  // namespace

DimbaModel DimbaModel::load(const Checkpoint& ckpt, const DimbaConfig& cfg, DType weight_dtype,
                            const Backend& backend) {
  cfg.validate();
  if (!is_float_dtype(weight_dtype))
    throw EngineError(ErrorCode::InvalidArgument,
                      std::string("Dimba weight dtype must be F32, F16 or BF16, not ") + dtype_name(weight_dtype));
  validate(ckpt, cfg);

  DimbaModel m;
  m.cfg_ = cfg;
  m.wdtype_ = weight_dtype;
  m.be_ = &backend;
  m.arena_ = backend_arena(backend);
  // On CPU tensors used in place stay mapped and converted copies are kept; on another backend
  // the device copies (in m.storage_) are all the model keeps.
  std::vector<std::shared_ptr<void>> host_copies;
  if (backend.host_memory) m.storage_ = ckpt.storage;
  WeightPlacer placer(backend, m.storage_);
  Binder bd{ckpt, weight_dtype, backend.host_memory ? m.storage_ : host_copies, placer};
  DimbaWeights& w = m.w_;
  w.x_embed_w = bd.linear("x_embedder.proj.weight");
  w.x_embed_b = bd.f32("x_embedder.proj.bias");
  w.t_mlp0_w = bd.linear("t_embedder.mlp.0.weight");
  w.t_mlp0_b = bd.f32("t_embedder.mlp.0.bias");
  w.t_mlp2_w = bd.linear("t_embedder.mlp.2.weight");
  w.t_mlp2_b = bd.f32("t_embedder.mlp.2.bias");
  w.t_block_w = bd.linear("t_block.1.weight");
  w.t_block_b = bd.f32("t_block.1.bias");
  w.y_fc1_w = bd.linear("y_embedder.y_proj.fc1.weight");
  w.y_fc1_b = bd.f32("y_embedder.y_proj.fc1.bias");
  w.y_fc2_w = bd.linear("y_embedder.y_proj.fc2.weight");
  w.y_fc2_b = bd.f32("y_embedder.y_proj.fc2.bias");
  for (int i = 0; i < cfg.depth; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    DimbaBlockWeights k;
    k.scale_shift_table = bd.f32(b + "scale_shift_table");
    k.attn_qkv_w = bd.linear(b + "attn.qkv.weight");
    k.attn_qkv_b = bd.f32(b + "attn.qkv.bias");
    k.attn_proj_w = bd.linear(b + "attn.proj.weight");
    k.attn_proj_b = bd.f32(b + "attn.proj.bias");
    k.cross_q_w = bd.linear(b + "cross_attn.q_linear.weight");
    k.cross_q_b = bd.f32(b + "cross_attn.q_linear.bias");
    k.cross_kv_w = bd.linear(b + "cross_attn.kv_linear.weight");
    k.cross_kv_b = bd.f32(b + "cross_attn.kv_linear.bias");
    k.cross_proj_w = bd.linear(b + "cross_attn.proj.weight");
    k.cross_proj_b = bd.f32(b + "cross_attn.proj.bias");
    k.mlp_fc1_w = bd.linear(b + "mlp.fc1.weight");
    k.mlp_fc1_b = bd.f32(b + "mlp.fc1.bias");
    k.mlp_fc2_w = bd.linear(b + "mlp.fc2.weight");
    k.mlp_fc2_b = bd.f32(b + "mlp.fc2.bias");
    w.blocks.push_back(k);
  }
  for (int j = 0; j < cfg.mamba_depth(); ++j) {
    const std::string x = "mamba_blocks." + std::to_string(j) + ".mixer.";
    MambaBlockWeights k;
    k.norm_w = bd.f32("mamba_blocks." + std::to_string(j) + ".norm.weight");
    k.in_proj_w = bd.linear(x + "in_proj.weight");
    k.out_proj_w = bd.linear(x + "out_proj.weight");
    for (int dir = 0; dir < 2; ++dir) {
      const std::string s = dir ? "_b" : "";
      MambaDirWeights& d = dir ? k.bwd : k.fwd;
      d.conv_w = bd.f32(x + "conv1d" + s + ".weight");
      d.conv_b = bd.f32(x + "conv1d" + s + ".bias");
      d.x_proj_w = bd.linear(x + "x_proj" + s + ".weight");
      d.dt_proj_w = bd.linear(x + "dt_proj" + s + ".weight");
      d.dt_proj_b = bd.f32(x + "dt_proj" + s + ".bias");
      d.A = bd.neg_exp(x + (dir ? "A_b_log" : "A_log"));
      d.D = bd.f32(x + (dir ? "D_b" : "D"));
    }
    w.mamba_blocks.push_back(k);
  }
  w.final_table = bd.f32("final_layer.scale_shift_table");
  w.final_w = bd.linear("final_layer.linear.weight");
  w.final_b = bd.f32("final_layer.linear.bias");
  w.ones = bd.ones(size_t(cfg.hidden_size));
  m.weight_bytes_ = bd.bytes;
  return m;
}

DimbaModel DimbaModel::load_file(const std::string& path, const DimbaConfig& cfg, DType weight_dtype,
                                 const Backend& backend) {
  Checkpoint ck = load_checkpoint(path);
  return load(ck, cfg, weight_dtype, backend);
}

}  // namespace dimba
