// Training Dimba on any backend with the training ops (backend/backend.h; CPU by default): the
// forward pass keeping what the backward needs, and the backward through the whole model
// (MODEL.md section 2, quirks included: the Mamba residual dataflow, the final layer modulated
// by temb, per-sample text lengths), accumulating the gradient of every parameter. Weights,
// gradients and optimiser moments are f32 ParamSets sharing one layout (the reference names of
// dimba_expected_tensors), llm.c style: one allocation carved into named views. They live on
// the host, where the optimiser runs; the trainer mirrors them in the backend's memory
// (training/param_mirror.h: on CPU the host data itself), uploading parameters at each
// forward and gradients around each backward.
// Activations live in an arena of the backend's memory (models/backend_io.h).
//
//   ParamSet params = ParamSet::from_checkpoint(load_safetensors(p), cfg);
//   DimbaTrainer tr(cfg, params);           // grads zeroed, same layout
//   tr.forward(out, x_t, t, y, y_lens, B, H, W, L);
//   tr.backward(dout);                       // grads += d(loss)/d(params)
//
// Gradient checkpointing (set_checkpointing(true)) keeps only each block's input and the
// Mamba residual stream, and recomputes a block's activations in its backward.
// defines: ParamSet, DimbaTrainer
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "core/arena.h"
#include "io/checkpoint.h"
#include "models/dimba.h"

namespace dimba {

struct Lora;  // training/lora.h

// Named f32 tensors in one contiguous buffer (parameters, gradients, optimiser state).
struct ParamSet {
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<size_t> offsets;  // element offset of each tensor in data
  std::vector<float> data;
  std::unordered_map<std::string, size_t> index;

  // Zero-filled tensors for every name of `cfg` (dimba_expected_tensors, in its order).
  static ParamSet zeros_like_config(const DimbaConfig& cfg);
  // The same names and shapes as `other`, zero-filled.
  static ParamSet zeros_like(const ParamSet& other);
  // Every expected tensor of `cfg` read from `ck` (any float dtype, converted to f32).
  // Throws EngineError(ModelMismatch) listing every missing or mis-shaped tensor.
  static ParamSet from_checkpoint(const Checkpoint& ck, const DimbaConfig& cfg);

  size_t count() const { return names.size(); }
  size_t numel(size_t i) const;
  float* at(size_t i) { return data.data() + offsets[i]; }
  const float* at(size_t i) const { return data.data() + offsets[i]; }
  // Throws EngineError(InvalidArgument) for an unknown name.
  float* get(const std::string& name);
  const float* get(const std::string& name) const;
  bool has(const std::string& name) const { return index.count(name) != 0; }
  void zero();
};

class ParamMirror;  // training/param_mirror.h

class DimbaTrainer {
 public:
  // `params` must outlive the trainer (it is read at every forward; the optimiser updates it
  // in place). Gradients start at zero. With `lora`, as attach_lora(lora, lora_strength) but
  // without ever allocating model-sized gradients. `be` runs every op; a backend that lacks a
  // training op is refused with EngineError(BackendUnavailable) naming the missing ones.
  DimbaTrainer(const DimbaConfig& cfg, ParamSet& params, Lora* lora = nullptr, double lora_strength = 1.0,
               const Backend& be = cpu_backend());
  ~DimbaTrainer();

  // out [B, out_channels, H, W] for x [B, in_channels, H, W], t [B], y [B, 1, L, Ccap],
  // y_lens [B] (null: all L), all host memory. drop [B] (null: none): sample b's caption is
  // replaced by the learned null caption y_embedder.y_embedding (training-time caption
  // dropout, MODEL.md 7), whose gradient then accumulates. Keeps the activations for backward().
  void forward(float* out, const float* x, const float* t, const float* y, const int* y_lens, int B, int H, int W,
               int L, const uint8_t* drop = nullptr);
  // grads += d(sum_i dout_i out_i)/d(params) for the last forward (dout host memory). Call
  // once per forward.
  void backward(const float* dout);

  // LoRA (training/lora.h), applied unmerged: every adapted Linear computes
  // y = x W^T + b + strength * scale * (x A^T) B^T. While attached, backward() puts the adapter
  // gradients in lora->grads and computes no gradient for any base Linear weight or bias (the
  // base is frozen); grads() then holds only the small non-Linear tensors (their gradients are
  // computed on the way but not used). null detaches (grads() back to the full layout, zeroed).
  // `lora` must outlive its attachment.
  void attach_lora(Lora* lora, double strength = 1.0);

  ParamSet& grads() { return grads_; }
  const ParamSet& grads() const { return grads_; }
  const Backend& backend() const { return be_; }
  void set_checkpointing(bool on) { checkpointing_ = on; }
  bool checkpointing() const { return checkpointing_; }
  // Bytes of the blocks' saved activations after the last forward (what checkpointing saves).
  size_t saved_activation_bytes() const { return saved_bytes_; }

 private:
  // Saved activations: device pointers into the arena (null when not kept).
  struct BlockActs {
    float* x_in = nullptr;                                            // (B, N, C) block input
    float* mod = nullptr;                                             // (B, 6C) table + t0
    float *mean1 = nullptr, *rstd1 = nullptr, *ln1 = nullptr, *h1 = nullptr;  // LN / modulated attention input
    float *qkv = nullptr, *a1 = nullptr, *o1 = nullptr, *x1 = nullptr;        // self-attention; x1 after its residual
    float *q = nullptr, *kv = nullptr, *a2 = nullptr, *x2 = nullptr;          // cross-attention; x2 after its residual
    float *mean2 = nullptr, *rstd2 = nullptr, *ln2 = nullptr, *h2 = nullptr;  // LN / modulated MLP input
    float *pre = nullptr, *act = nullptr, *m = nullptr;                       // fc1 output, GELU, fc2 output
  };
  struct MambaActs {
    float* res = nullptr;                                 // (B, N, C) the residual stream after this block's add
    float *rstd = nullptr, *hn = nullptr, *xz = nullptr;  // RMSNorm, its output, in_proj output [x | z]
    float *cpre[2] = {}, *u[2] = {};                      // conv output before SiLU, after (per direction)
    float *xdbl[2] = {}, *dt[2] = {};                     // x_proj output [dt | B | C], dt contiguous
    float *dpre[2] = {}, *delta[2] = {};                  // dt_proj output, softplus
    float* A[2] = {};                                     // -exp(A_log)
    float* ysum = nullptr;                                // y_fwd + flip(y_bwd)
  };

  void block_forward(int i, float* x, BlockActs& a, bool keep);
  void block_backward(int i, float* dx, BlockActs& a);
  void mamba_forward(int j, float* x_out, MambaActs& a, bool keep);
  void mamba_backward(int j, const float* dx_out, float* dres, MambaActs& a);
  // A Linear by parameter name (bias name empty: none), with the attached LoRA if any.
  void lin_forward(float* y, const float* x, const std::string& w, const std::string& b, int M, int K, int N,
                   bool accumulate = false);
  void lin_backward(float* dx, const float* dy, const float* x, const std::string& w, const std::string& b, int M,
                    int K, int N);
  float* P(const std::string& name) const;  // a parameter / gradient in backend memory
  float* G(const std::string& name) const;
  float* zeros(size_t n);                   // arena memory set to 0
  float* copy_of(const float* dev, int64_t rows, int C);  // a copy in the arena

  DimbaConfig cfg_;
  ParamSet& params_;
  ParamSet grads_;
  const Backend& be_;
  std::unique_ptr<Arena> arena_;
  std::unique_ptr<ParamMirror> pdev_, gdev_, lora_dev_, lora_gdev_;
  bool checkpointing_ = false;
  Lora* lora_ = nullptr;
  double lora_strength_ = 1.0;
  size_t saved_bytes_ = 0;

  // The last forward's sizes and inputs (device pointers into the arena).
  int B_ = 0, H_ = 0, W_ = 0, L_ = 0, N_ = 0;
  size_t forward_top_ = 0;  // the arena mark after the forward: backward's scratch starts here
  float *x_in_ = nullptr, *y_eff_ = nullptr;
  int* lens_d_ = nullptr;
  std::vector<uint8_t> drop_;
  // Activations that live across blocks.
  // timestep path
  float *tf_ = nullptr, *th_ = nullptr, *ts_ = nullptr, *temb_ = nullptr, *tsi_ = nullptr, *t0_ = nullptr;
  float *y1_ = nullptr, *yg_ = nullptr, *yy_ = nullptr;  // caption path (all L tokens)
  std::vector<BlockActs> blocks_;
  std::vector<MambaActs> mambas_;
  // final layer
  float *xf_ = nullptr, *fmean_ = nullptr, *frstd_ = nullptr, *fln_ = nullptr, *fh_ = nullptr, *fo_ = nullptr;
  float *dyy_ = nullptr, *dt0_ = nullptr;  // gradients shared by all blocks
};

}  // namespace dimba
