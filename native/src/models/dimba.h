// Dimba (Transformer-Mamba diffusion model), exactly as ../shared/spec/MODEL.md section 2
// specifies, quirks included; any config (depth, width, heads, patch, mamba_ratio,
// pe_interpolation, non-square latents, per-sample text lengths).
//
//   DimbaConfig cfg = DimbaConfig::from_json(parse_json_untrusted(read_text_file(p), p));
//   Checkpoint ck = load_safetensors(weights_path);
//   DimbaModel model = DimbaModel::load(ck, cfg, DType::BF16);   // validates every tensor
//   model.forward(out, x, t, y, y_lens, B, H, W, L);
//
// Files: dimba_config.cpp (config, expected tensor list), dimba_weights.cpp (binding and
// validation), dimba_block.cpp (DimbaBlock), mamba_block.cpp (the bidirectional mixer),
// dimba.cpp (the whole forward).
// defines: DimbaConfig, Weight, DimbaBlockWeights, MambaDirWeights, MambaBlockWeights,
//          DimbaWeights, DimbaModel, ActivationHook, dimba_expected_tensors, mask_to_lengths
#pragma once
#include <cstdint>
#include <functional>
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

struct DimbaConfig {
  int depth = 28;
  int hidden_size = 1152;   // C
  int num_heads = 16;
  int patch_size = 2;       // p
  int in_channels = 4;
  int out_channels = 8;     // 2*in: eps then the learned variance
  int caption_channels = 4096;
  int model_max_length = 300;  // L of y_embedding
  double mamba_ratio = 1.0;
  double pe_interpolation = 1.0;
  int input_size = 64;      // latent size the model was built for; base_size = input_size / p
  int d_state = 16;
  int d_conv = 4;
  int expand = 2;
  int dt_rank = 0;          // 0: ceil(C/16)
  double mlp_ratio = 4.0;
  // What the first in_channels output channels are trained to predict ("prediction_type" in
  // the JSON, diffusers' names "epsilon", "v_prediction", "sample"): eps (every Dimba
  // checkpoint), v = alpha eps - sigma x0, or x0 itself. An eps model must pass x_t through
  // almost exactly at high noise, a v model at low noise; a small Dimba, with no skip path
  // around its Mamba mixers, learns neither well, while x0 is a smooth image at every noise
  // level. forward() converts to eps, so samplers and pipelines see eps whatever the target.
  enum class Prediction { Epsilon, V, Sample } prediction = Prediction::Epsilon;

  // Parses the golden JSON format (dimba-tiny.json); unknown keys are ignored, missing ones
  // keep the Dimba-L defaults. Throws InvalidArgument on absurd values (via validate()).
  static DimbaConfig from_json(const nlohmann::json& j);
  // Dimba-L/2 for a resolution of 512, 1024 or 2048 (pe_interpolation 1/2/4).
  static DimbaConfig dimba_l_2(int resolution = 512);
  void validate() const;  // InvalidArgument naming the bad field

  int d_inner() const { return expand * hidden_size; }
  int dt_rank_resolved() const { return dt_rank > 0 ? dt_rank : (hidden_size + 15) / 16; }
  int mlp_hidden() const { return int(hidden_size * mlp_ratio); }
  int mamba_depth() const { return int(mamba_ratio * depth); }
  int gap() const { return depth / mamba_depth(); }
  // MODEL.md 2.7: the mamba block that runs after DimbaBlock i, or -1.
  int mamba_after_block(int i) const;
};

// The config JSON's name of a prediction type: "epsilon", "v_prediction" or "sample".
const char* prediction_type_name(DimbaConfig::Prediction p);

// Every tensor a checkpoint for `cfg` holds, with its shape (pos_embed excluded: it is
// recomputed, MODEL.md 2.2).
std::vector<std::pair<std::string, std::vector<int64_t>>> dimba_expected_tensors(const DimbaConfig& cfg);

// A Linear weight [out, in] in the dtype the GEMM reads (F32/F16/BF16).
struct Weight {
  const void* data = nullptr;
  DType dtype = DType::F32;
};

// Small tensors (biases, norms, tables, conv taps, A, D) are always f32; Linear weights are
// in the model's weight dtype. Shapes use C hidden, Di d_inner, Ns d_state, R dt_rank,
// Hm mlp hidden, Ccap caption channels.
struct DimbaBlockWeights {
  const float* scale_shift_table;  // (6, C)
  Weight attn_qkv_w;               // (3C, C)
  const float* attn_qkv_b;         // (3C)
  Weight attn_proj_w;              // (C, C)
  const float* attn_proj_b;        // (C)
  Weight cross_q_w;                // (C, C)
  const float* cross_q_b;          // (C)
  Weight cross_kv_w;               // (2C, C)
  const float* cross_kv_b;         // (2C)
  Weight cross_proj_w;             // (C, C)
  const float* cross_proj_b;       // (C)
  Weight mlp_fc1_w;                // (Hm, C)
  const float* mlp_fc1_b;          // (Hm)
  Weight mlp_fc2_w;                // (C, Hm)
  const float* mlp_fc2_b;          // (C)
};

struct MambaDirWeights {  // one direction of the bidirectional mixer ("" or "_b" names)
  const float* conv_w;   // (Di, d_conv)  from conv1d.weight (Di, 1, d_conv)
  const float* conv_b;   // (Di)
  Weight x_proj_w;       // (R + 2Ns, Di)
  Weight dt_proj_w;      // (Di, R)
  const float* dt_proj_b;  // (Di)
  const float* A;        // (Di, Ns) = -exp(A_log), computed at load
  const float* D;        // (Di)
};

struct MambaBlockWeights {
  const float* norm_w;   // (C) RMSNorm, eps 1e-5
  Weight in_proj_w;      // (2Di, C), no bias
  MambaDirWeights fwd, bwd;
  Weight out_proj_w;     // (C, Di), no bias
};

struct DimbaWeights {
  Weight x_embed_w;        // (C, Cin*p*p) from (C, Cin, p, p)
  const float* x_embed_b;  // (C)
  Weight t_mlp0_w;         // (C, 256)
  const float* t_mlp0_b;   // (C)
  Weight t_mlp2_w;         // (C, C)
  const float* t_mlp2_b;   // (C)
  Weight t_block_w;        // (6C, C)
  const float* t_block_b;  // (6C)
  Weight y_fc1_w;          // (C, Ccap)
  const float* y_fc1_b;    // (C)
  Weight y_fc2_w;          // (C, C)
  const float* y_fc2_b;    // (C)
  std::vector<DimbaBlockWeights> blocks;        // depth
  std::vector<MambaBlockWeights> mamba_blocks;  // mamba_depth
  const float* final_table;  // (2, C)
  Weight final_w;            // (p*p*out, C)
  const float* final_b;      // (p*p*out)
  const float* ones;         // (C) all 1, made at load: composed_layernorm_modulate's 1 + scale is one add
};

// Called with each named activation as it is produced (golden names: act.x_embedder,
// act.t_embedder, act.t_block, act.y_embedder, act.blocks.i, act.mamba_blocks.j,
// act.mamba_blocks.j.residual, act.final_layer); data is valid only during the call.
using ActivationHook =
    std::function<void(const std::string& name, const float* data, const std::vector<int64_t>& shape)>;

// y_lens[b] = sum(mask[b, :]) over a [B, L] 0/1 mask (MODEL.md 2.6).
std::vector<int> mask_to_lengths(const int64_t* mask, int B, int L);

class DimbaModel {
 public:
  // Binds `ckpt`'s tensors by name (MODEL.md / golden/dimba-l-2.keys.json names; pos_embed
  // ignored). Linear weights are used in place when already stored as `weight_dtype`
  // (the checkpoint's storage is kept alive), converted otherwise. Throws
  // EngineError(ModelMismatch) listing EVERY missing, unexpected, mis-shaped or
  // non-float tensor; InvalidArgument for a bad config or weight_dtype.
  static DimbaModel load(const Checkpoint& ckpt, const DimbaConfig& cfg, DType weight_dtype,
                         const Backend& backend = cpu_backend());
  // The same from a file or folder via io/load_checkpoint.h (safetensors, the torch .pt with
  // its `state_dict`, sharded index); the mapped file stays open while the model lives.
  static DimbaModel load_file(const std::string& path, const DimbaConfig& cfg, DType weight_dtype,
                              const Backend& backend = cpu_backend());

  // out [B, out_channels, H, W] from x [B, in_channels, H, W], t [B] (float timesteps),
  // y [B, 1, L, caption_channels], y_lens [B] (text tokens kept per sample, each 0..L; null:
  // all L). H, W: multiples of patch_size. Not reentrant (one activation arena per model);
  // runs with FTZ/DAZ on. Throws InvalidArgument on bad sizes.
  void forward(float* out, const float* x, const float* t, const float* y, const int* y_lens, int B, int H,
               int W, int L, const ActivationHook& hook = nullptr);
  // The same network on inputs already in the backend's memory (the same shapes; y_lens on the
  // device, each 0..L, not checked here), writing `out` there: no staging, no host
  // synchronisation, and the output is the raw prediction (forward() then calls answer_in_eps
  // on the host). Every call with the same sizes carves the same arena offsets and, once the
  // arena has grown, allocates nothing, so a CUDA graph can capture it
  // (pipeline/graphed_forward.h). A captured graph holds arena pointers: a later forward() or
  // forward_device() call of other sizes may resize the arena (Arena::reset(0)) under it.
  // Throws InvalidArgument on bad sizes.
  void forward_device(float* out, const float* x, const float* t, const float* y, const int* y_lens, int B, int H,
                      int W, int L);
  // forward()'s last step, on host memory: a v or x0 model's raw prediction `out` [B, Cout, H, W]
  // for x [B, Cin, H, W] at t [B] turned into eps in place, like every other model's
  // (DimbaConfig::prediction); nothing for an eps model.
  void answer_in_eps(float* out, const float* x, const float* t, int B, int H, int W) const;

  const DimbaConfig& config() const { return cfg_; }
  const Backend& backend() const { return *be_; }
  DType weight_dtype() const { return wdtype_; }
  size_t weight_bytes() const { return weight_bytes_; }     // bound tensors, at their dtype
  size_t arena_peak_bytes() const { return arena_->peak(); }  // activations, most at once

 private:
  DimbaConfig cfg_;
  DType wdtype_ = DType::F32;
  const Backend* be_ = nullptr;
  DimbaWeights w_{};
  size_t weight_bytes_ = 0;
  void check_sizes(int B, int H, int W, int L) const;
  // Steps 1-9 from arena offset `base` on device inputs (forward, forward_device).
  void forward_core(float* out, const float* x, const float* t, const float* y, const int* y_lens, int B, int H,
                    int W, int L, const ActivationHook& hook);
  std::vector<std::shared_ptr<void>> storage_;  // converted tensors and the checkpoint's buffers
  std::unique_ptr<Arena> arena_;
};

// DimbaBlock i and Mamba block j on [B, N, C] activations in place (dimba_block.cpp,
// mamba_block.cpp). Scratch comes from `arena` and is released before returning.
void dimba_block_forward(float* x, const float* yy, const int* y_lens, const float* t0, const DimbaBlockWeights& w,
                         const float* ones, const DimbaConfig& cfg, int B, int N, int L, const Backend& be,
                         Arena& arena);
// out = Mamba mixer(RMSNorm(residual)) (MODEL.md section 2; the backend's mamba_block_forward).
void mamba_block_forward(float* out, const float* residual, const MambaBlockWeights& w, const DimbaConfig& cfg, int B,
                         int N, const Backend& be, Arena& arena);

}  // namespace dimba
