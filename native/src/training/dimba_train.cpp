// The Dimba training forward (saving activations) and backward, op by op with a backend's
// forward/backward pairs (backend/backend.h; semantics in backend/cpu/ops.h, gemm.h). The
// forward is the same computation as models/dimba*.cpp (MODEL.md section 2), written again
// here because it must keep its intermediates; every backward line mirrors a forward line, in
// reverse. Memory: activations in one arena of the backend's memory, a stack: the forward's
// saved tensors first, then each backward stage's scratch above them, released when the stage
// ends (with checkpointing also the block activations recomputed for that stage).
// defines: ParamSet members, DimbaTrainer members
#include "training/dimba_train.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fpenv.h"
#include "core/tensor.h"
#include "models/backend_io.h"
#include "training/lora.h"
#include "training/param_mirror.h"

namespace dimba {


// ---- ParamSet -----------------------------------------------------------------------------

size_t ParamSet::numel(size_t i) const {
  size_t n = 1;
  for (int64_t d : shapes[i]) n *= size_t(d);
  return n;
}

ParamSet ParamSet::zeros_like_config(const DimbaConfig& cfg) {
  ParamSet p;
  size_t off = 0;
  for (auto& [name, shape] : dimba_expected_tensors(cfg)) {
    p.index[name] = p.names.size();
    p.names.push_back(name);
    p.shapes.push_back(shape);
    p.offsets.push_back(off);
    off += size_t(shape_numel(shape));
  }
  p.data.assign(off, 0.0f);
  return p;
}

ParamSet ParamSet::zeros_like(const ParamSet& other) {
  ParamSet p = other;
  p.zero();
  return p;
}

ParamSet ParamSet::from_checkpoint(const Checkpoint& ck, const DimbaConfig& cfg) {
  ParamSet p = zeros_like_config(cfg);
  std::string problems;
  int n = 0;
  for (size_t i = 0; i < p.count(); ++i) {
    const TensorEntry* e = ck.find(p.names[i]);
    if (!e) {
      problems += "\n  missing " + p.names[i];
      ++n;
      continue;
    }
    if (e->shape != p.shapes[i] || !(e->dtype == DType::F32 || e->dtype == DType::F16 || e->dtype == DType::BF16 ||
                                     e->dtype == DType::F64)) {
      problems += "\n  mis-shaped " + p.names[i] + " " + shape_str(e->shape) + " " + dtype_name(e->dtype) +
                  ", expected " + shape_str(p.shapes[i]);
      ++n;
      continue;
    }
    convert_to_f32(p.at(i), e->data, e->dtype, p.numel(i));
  }
  if (n)
    throw EngineError(ErrorCode::ModelMismatch,
                      "training weights: " + std::to_string(n) + " problem(s):" + problems);
  return p;
}

float* ParamSet::get(const std::string& name) {
  auto it = index.find(name);
  if (it == index.end()) throw EngineError(ErrorCode::InvalidArgument, "no parameter named " + name);
  return at(it->second);
}

const float* ParamSet::get(const std::string& name) const {
  auto it = index.find(name);
  if (it == index.end()) throw EngineError(ErrorCode::InvalidArgument, "no parameter named " + name);
  return at(it->second);
}

void ParamSet::zero() { std::fill(data.begin(), data.end(), 0.0f); }

// ---- DimbaTrainer -------------------------------------------------------------------------

namespace {

// The ops DimbaTrainer calls: a backend missing any of them cannot train.
void require_training_ops(const Backend& be) {
  std::string missing;
  auto need = [&](bool present, const char* name) {
    if (!present) missing += std::string(missing.empty() ? "" : ", ") + name;
  };
#define DIMBA_NEED(op) need(be.op != nullptr, #op)
  DIMBA_NEED(zero);
  DIMBA_NEED(linear_forward);
  DIMBA_NEED(sgemm);
  DIMBA_NEED(layernorm_forward);
  DIMBA_NEED(rmsnorm_forward);
  DIMBA_NEED(modulate_forward);
  DIMBA_NEED(gated_residual_forward);
  DIMBA_NEED(gelu_tanh_forward);
  DIMBA_NEED(silu_forward);
  DIMBA_NEED(softplus_forward);
  DIMBA_NEED(add_forward);
  DIMBA_NEED(mul_forward);
  DIMBA_NEED(copy_rows_forward);
  DIMBA_NEED(attention_forward);
  DIMBA_NEED(conv1d_causal_depthwise_forward);
  DIMBA_NEED(selective_scan_forward);
  DIMBA_NEED(patch_embed_forward);
  DIMBA_NEED(unpatchify_forward);
  DIMBA_NEED(sincos_pos_embed_2d);
  DIMBA_NEED(timestep_embedding_forward);
  DIMBA_NEED(linear_backward);
  DIMBA_NEED(layernorm_backward);
  DIMBA_NEED(rmsnorm_backward);
  DIMBA_NEED(modulate_backward);
  DIMBA_NEED(gated_residual_backward);
  DIMBA_NEED(gelu_tanh_backward);
  DIMBA_NEED(silu_backward);
  DIMBA_NEED(softplus_backward);
  DIMBA_NEED(add_backward);
  DIMBA_NEED(add_row_backward);
  DIMBA_NEED(attention_backward);
  DIMBA_NEED(conv1d_causal_depthwise_backward);
  DIMBA_NEED(selective_scan_backward);
  DIMBA_NEED(patch_embed_backward);
  DIMBA_NEED(unpatchify_backward);
#undef DIMBA_NEED
  if (!missing.empty())
    throw EngineError(ErrorCode::BackendUnavailable, std::string("backend '") + be.name +
                                                         "' cannot train Dimba: it lacks " + missing);
}

}  // namespace

DimbaTrainer::DimbaTrainer(const DimbaConfig& cfg, ParamSet& params, Lora* lora, double lora_strength,
                           const Backend& be)
    : cfg_(cfg), params_(params), be_(be) {
  cfg_.validate();
  require_training_ops(be_);
  arena_ = backend_arena(be_);
  pdev_ = std::make_unique<ParamMirror>(be_, params_);
  attach_lora(lora, lora_strength);  // allocates the gradients for the chosen layout
}

DimbaTrainer::~DimbaTrainer() = default;

void DimbaTrainer::attach_lora(Lora* lora, double strength) {
  lora_ = lora;
  lora_strength_ = strength;
  lora_dev_.reset();
  lora_gdev_.reset();
  if (!lora) {
    grads_ = ParamSet::zeros_like(params_);
  } else {
    // The frozen base's Linear and patch-embedding weights get no gradient: keep gradient
    // memory only for the small tensors (norms, tables, conv taps, A_log, D, biases) that the
    // backward still passes through, so LoRA training does not hold a model-sized buffer.
    ParamSet g;
    size_t off = 0;
    for (size_t i = 0; i < params_.count(); ++i) {
      const std::string& n = params_.names[i];
      const bool big = n.size() > 7 && n.compare(n.size() - 7, 7, ".weight") == 0 &&
                       (params_.shapes[i].size() == 2 || n == "x_embedder.proj.weight") &&
                       n.find("scale_shift_table") == std::string::npos;
      if (big) continue;
      g.index[n] = g.names.size();
      g.names.push_back(n);
      g.shapes.push_back(params_.shapes[i]);
      g.offsets.push_back(off);
      off += params_.numel(i);
    }
    g.data.assign(off, 0.0f);
    grads_ = std::move(g);
    lora_dev_ = std::make_unique<ParamMirror>(be_, lora->tensors);
    lora_gdev_ = std::make_unique<ParamMirror>(be_, lora->grads);
  }
  gdev_ = std::make_unique<ParamMirror>(be_, grads_);
}

float* DimbaTrainer::P(const std::string& name) const { return pdev_->get(name); }
float* DimbaTrainer::G(const std::string& name) const { return gdev_->get(name); }

float* DimbaTrainer::zeros(size_t n) {
  float* p = arena_->alloc_f32(n);
  be_.zero(p, n * sizeof(float));
  return p;
}

float* DimbaTrainer::copy_of(const float* dev, int64_t rows, int C) {
  float* p = arena_->alloc_f32(size_t(rows) * C);
  be_.copy_rows_forward(p, dev, rows, C, C, C);
  return p;
}

void DimbaTrainer::lin_forward(float* y, const float* x, const std::string& w, const std::string& b, int M, int K,
                               int N, bool accumulate) {
  be_.linear_forward(y, x, P(w), DType::F32, b.empty() ? nullptr : P(b), M, K, N, accumulate);
  if (!lora_ || !lora_->tensors.has(w + ".lora_A")) return;
  // y += s * (x A^T) B^T, s = strength * alpha / r
  const int r = lora_->cfg.rank;
  const size_t m = arena_->mark();
  float* xa = arena_->alloc_f32(size_t(M) * r);
  be_.sgemm(false, true, M, r, K, 1.0f, x, K, lora_dev_->get(w + ".lora_A"), K, 0.0f, xa, r);
  be_.sgemm(false, true, M, N, r, float(lora_strength_ * lora_->scale()), xa, r, lora_dev_->get(w + ".lora_B"), r,
            1.0f, y, N);
  arena_->reset(m);
}

void DimbaTrainer::lin_backward(float* dx, const float* dy, const float* x, const std::string& w, const std::string& b,
                                int M, int K, int N) {
  const bool base = lora_ == nullptr;  // under LoRA the base is frozen: no dW, db
  be_.linear_backward(dx, base ? G(w) : nullptr, base && !b.empty() ? G(b) : nullptr, dy, x, P(w), M, K, N);
  if (!lora_ || !lora_->tensors.has(w + ".lora_A")) return;
  const int r = lora_->cfg.rank;
  const float s = float(lora_strength_ * lora_->scale());
  const float* A = lora_dev_->get(w + ".lora_A");
  const float* Bm = lora_dev_->get(w + ".lora_B");
  const size_t m = arena_->mark();
  float* xa = arena_->alloc_f32(size_t(M) * r);
  float* dyb = arena_->alloc_f32(size_t(M) * r);
  be_.sgemm(false, true, M, r, K, 1.0f, x, K, A, K, 0.0f, xa, r);      // x A^T   (M, r)
  be_.sgemm(false, false, M, r, N, 1.0f, dy, N, Bm, r, 0.0f, dyb, r);  // dy B    (M, r)
  be_.sgemm(true, false, N, r, M, s, dy, N, xa, r, 1.0f, lora_gdev_->get(w + ".lora_B"), r);  // dB += s dy^T xA
  be_.sgemm(true, false, r, K, M, s, dyb, r, x, K, 1.0f, lora_gdev_->get(w + ".lora_A"), K);  // dA += s (dyB)^T x
  if (dx) be_.sgemm(false, false, M, K, r, s, dyb, r, A, K, 1.0f, dx, K);                      // dx += s dyB A
  arena_->reset(m);
}

// DimbaBlock i on x (B, N, C) in place (dimba_block.cpp's computation), keeping activations
// (keep false: only the block input survives, the rest is released before returning).
void DimbaTrainer::block_forward(int i, float* x, BlockActs& a, bool keep) {
  const Backend& be = be_;
  Arena& ar = *arena_;
  const int B = B_, N = N_, L = L_, C = cfg_.hidden_size, Hh = cfg_.num_heads, hd = C / Hh, Hm = cfg_.mlp_hidden();
  const int64_t BN = int64_t(B) * N;
  const size_t nC = size_t(BN) * C;
  const std::string pre = "blocks." + std::to_string(i) + ".";

  if (!a.x_in) a.x_in = copy_of(x, BN, C);
  const size_t m0 = ar.mark();
  a.mod = ar.alloc_f32(size_t(B) * 6 * C);
  for (int b = 0; b < B; ++b)
    be.add_forward(a.mod + size_t(b) * 6 * C, t0_ + size_t(b) * 6 * C, P(pre + "scale_shift_table"), 6 * C);
  const float* mod = a.mod;
  // self-attention
  a.mean1 = ar.alloc_f32(size_t(BN));
  a.rstd1 = ar.alloc_f32(size_t(BN));
  a.ln1 = ar.alloc_f32(nC);
  a.h1 = ar.alloc_f32(nC);
  be.layernorm_forward(a.ln1, a.mean1, a.rstd1, x, nullptr, nullptr, BN, C, 1e-6f);
  be.modulate_forward(a.h1, a.ln1, mod, mod + C, B, N, C, 6 * C);
  a.qkv = ar.alloc_f32(nC * 3);
  lin_forward(a.qkv, a.h1, pre + "attn.qkv.weight", pre + "attn.qkv.bias", int(BN), C, 3 * C);
  a.a1 = ar.alloc_f32(nC);
  be.attention_forward(a.a1, a.qkv, a.qkv + C, a.qkv + 2 * C, nullptr, B, N, N, Hh, hd, 3 * C, 3 * C, C);
  a.o1 = ar.alloc_f32(nC);
  lin_forward(a.o1, a.a1, pre + "attn.proj.weight", pre + "attn.proj.bias", int(BN), C, C);
  be.gated_residual_forward(x, a.o1, mod + 2 * C, B, N, C, 6 * C);
  a.x1 = copy_of(x, BN, C);
  // cross-attention to the sample's own text tokens (MODEL.md 2.6)
  a.q = ar.alloc_f32(nC);
  a.kv = ar.alloc_f32(size_t(B) * L * 2 * C);
  a.a2 = ar.alloc_f32(nC);
  lin_forward(a.q, x, pre + "cross_attn.q_linear.weight", pre + "cross_attn.q_linear.bias", int(BN), C, C);
  lin_forward(a.kv, yy_, pre + "cross_attn.kv_linear.weight", pre + "cross_attn.kv_linear.bias", B * L, C, 2 * C);
  be.attention_forward(a.a2, a.q, a.kv, a.kv + C, lens_d_, B, N, L, Hh, hd, C, 2 * C, C);
  lin_forward(x, a.a2, pre + "cross_attn.proj.weight", pre + "cross_attn.proj.bias", int(BN), C, C, true);
  a.x2 = copy_of(x, BN, C);
  // MLP
  a.mean2 = ar.alloc_f32(size_t(BN));
  a.rstd2 = ar.alloc_f32(size_t(BN));
  a.ln2 = ar.alloc_f32(nC);
  a.h2 = ar.alloc_f32(nC);
  be.layernorm_forward(a.ln2, a.mean2, a.rstd2, x, nullptr, nullptr, BN, C, 1e-6f);
  be.modulate_forward(a.h2, a.ln2, mod + 3 * C, mod + 4 * C, B, N, C, 6 * C);
  a.pre = ar.alloc_f32(size_t(BN) * Hm);
  a.act = ar.alloc_f32(size_t(BN) * Hm);
  a.m = ar.alloc_f32(nC);
  lin_forward(a.pre, a.h2, pre + "mlp.fc1.weight", pre + "mlp.fc1.bias", int(BN), C, Hm);
  be.gelu_tanh_forward(a.act, a.pre, BN * Hm);
  lin_forward(a.m, a.act, pre + "mlp.fc2.weight", pre + "mlp.fc2.bias", int(BN), Hm, C);
  be.gated_residual_forward(x, a.m, mod + 5 * C, B, N, C, 6 * C);
  if (!keep) {  // checkpointing: only the block input survives until backward
    ar.reset(m0);
    float* x_in = a.x_in;
    a = BlockActs();
    a.x_in = x_in;
  }
}

// dx (B, N, C): in, the gradient of the block output; out, of the block input. Parameter
// gradients, dyy and dt0 accumulate. Scratch (and recomputed activations) above the caller's mark.
void DimbaTrainer::block_backward(int i, float* dx, BlockActs& a) {
  const Backend& be = be_;
  const int B = B_, N = N_, L = L_, C = cfg_.hidden_size, Hh = cfg_.num_heads, hd = C / Hh, Hm = cfg_.mlp_hidden();
  const int64_t BN = int64_t(B) * N;
  const size_t nC = size_t(BN) * C;
  if (!a.qkv) {  // checkpointed: recompute this block's activations from its input
    float* x = copy_of(a.x_in, BN, C);
    block_forward(i, x, a, true);
  }
  const std::string pre = "blocks." + std::to_string(i) + ".";
  const float* mod = a.mod;
  float* dmod = zeros(size_t(B) * 6 * C);

  // MLP: x_out = x2 + gate_mlp * fc2(gelu(fc1(modulate(LN(x2))))); dx carries on as dx2.
  {
    float *dm = zeros(nC), *dact = zeros(size_t(BN) * Hm), *dpre = zeros(size_t(BN) * Hm), *dh2 = zeros(nC),
          *dln2 = zeros(nC);
    be.gated_residual_backward(dm, dmod + 5 * C, dx, a.m, mod + 5 * C, B, N, C, 6 * C);
    lin_backward(dact, dm, a.act, pre + "mlp.fc2.weight", pre + "mlp.fc2.bias", int(BN), Hm, C);
    be.gelu_tanh_backward(dpre, dact, a.pre, BN * Hm);
    lin_backward(dh2, dpre, a.h2, pre + "mlp.fc1.weight", pre + "mlp.fc1.bias", int(BN), C, Hm);
    be.modulate_backward(dln2, dmod + 3 * C, dmod + 4 * C, dh2, a.ln2, mod + 4 * C, B, N, C, 6 * C);
    be.layernorm_backward(dx, nullptr, nullptr, dln2, a.x2, nullptr, a.mean2, a.rstd2, BN, C);
  }
  // cross-attention: x2 = x1 + proj(attn(q_linear(x1), kv_linear(yy))); dx carries on as dx1.
  {
    float *da2 = zeros(nC), *dq = zeros(nC), *dkv = zeros(size_t(B) * L * 2 * C);
    lin_backward(da2, dx, a.a2, pre + "cross_attn.proj.weight", pre + "cross_attn.proj.bias", int(BN), C, C);
    be.attention_backward(dq, dkv, dkv + C, da2, a.q, a.kv, a.kv + C, lens_d_, B, N, L, Hh, hd, C, 2 * C, C);
    lin_backward(dx, dq, a.x1, pre + "cross_attn.q_linear.weight", pre + "cross_attn.q_linear.bias", int(BN), C, C);
    lin_backward(dyy_, dkv, yy_, pre + "cross_attn.kv_linear.weight", pre + "cross_attn.kv_linear.bias", B * L, C,
                 2 * C);
  }
  // self-attention: x1 = x_in + gate_msa * proj(attn(qkv(modulate(LN(x_in))))).
  {
    float *do1 = zeros(nC), *da1 = zeros(nC), *dqkv = zeros(nC * 3), *dh1 = zeros(nC), *dln1 = zeros(nC);
    be.gated_residual_backward(do1, dmod + 2 * C, dx, a.o1, mod + 2 * C, B, N, C, 6 * C);
    lin_backward(da1, do1, a.a1, pre + "attn.proj.weight", pre + "attn.proj.bias", int(BN), C, C);
    be.attention_backward(dqkv, dqkv + C, dqkv + 2 * C, da1, a.qkv, a.qkv + C, a.qkv + 2 * C, nullptr, B, N, N, Hh,
                          hd, 3 * C, 3 * C, C);
    lin_backward(dh1, dqkv, a.h1, pre + "attn.qkv.weight", pre + "attn.qkv.bias", int(BN), C, 3 * C);
    be.modulate_backward(dln1, dmod, dmod + C, dh1, a.ln1, mod + C, B, N, C, 6 * C);
    be.layernorm_backward(dx, nullptr, nullptr, dln1, a.x_in, nullptr, a.mean1, a.rstd1, BN, C);
  }
  // mod[b] = scale_shift_table + t0[b]
  be.add_row_backward(nullptr, G(pre + "scale_shift_table"), dmod, B, 6 * C);
  be.add_backward(dt0_, nullptr, dmod, int64_t(B) * 6 * C);
}

// Mamba block j: x_out = mixer(RMSNorm(a.res)) (mamba_block.cpp's computation), keeping
// activations; a.res is set by the caller.
void DimbaTrainer::mamba_forward(int j, float* x_out, MambaActs& a, bool keep) {
  const Backend& be = be_;
  Arena& ar = *arena_;
  const int B = B_, N = N_, C = cfg_.hidden_size, Di = cfg_.d_inner(), Ns = cfg_.d_state, R = cfg_.dt_rank_resolved();
  const int K = cfg_.d_conv, xs = R + 2 * Ns;
  const int64_t BN = int64_t(B) * N;
  const std::string pre = "mamba_blocks." + std::to_string(j) + ".";

  const size_t m0 = ar.mark();
  a.rstd = ar.alloc_f32(size_t(BN));
  a.hn = ar.alloc_f32(size_t(BN) * C);
  be.rmsnorm_forward(a.hn, a.rstd, a.res, P(pre + "norm.weight"), BN, C, 1e-5f);
  a.xz = ar.alloc_f32(size_t(BN) * 2 * Di);
  lin_forward(a.xz, a.hn, pre + "mixer.in_proj.weight", "", int(BN), C, 2 * Di);
  a.ysum = ar.alloc_f32(size_t(BN) * Di);
  std::vector<float> A_host(size_t(Di) * Ns);
  for (int dir = 0; dir < 2; ++dir) {
    const std::string s = dir ? "_b" : "";
    const bool reverse = dir == 1;
    a.cpre[dir] = ar.alloc_f32(size_t(BN) * Di);
    a.u[dir] = ar.alloc_f32(size_t(BN) * Di);
    for (int b = 0; b < B; ++b)
      be.conv1d_causal_depthwise_forward(a.cpre[dir] + size_t(b) * N * Di, a.xz + size_t(b) * N * 2 * Di,
                                         P(pre + "mixer.conv1d" + s + ".weight"), P(pre + "mixer.conv1d" + s + ".bias"),
                                         N, Di, K, 2 * Di, reverse);
    be.silu_forward(a.u[dir], a.cpre[dir], BN * Di);
    a.xdbl[dir] = ar.alloc_f32(size_t(BN) * xs);
    lin_forward(a.xdbl[dir], a.u[dir], pre + "mixer.x_proj" + s + ".weight", "", int(BN), Di, xs);
    a.dt[dir] = ar.alloc_f32(size_t(BN) * R);
    be.copy_rows_forward(a.dt[dir], a.xdbl[dir], BN, R, R, xs);  // the dt_raw columns, contiguous for the GEMM
    a.dpre[dir] = ar.alloc_f32(size_t(BN) * Di);
    a.delta[dir] = ar.alloc_f32(size_t(BN) * Di);
    lin_forward(a.dpre[dir], a.dt[dir], pre + "mixer.dt_proj" + s + ".weight", pre + "mixer.dt_proj" + s + ".bias",
                int(BN), R, Di);
    be.softplus_forward(a.delta[dir], a.dpre[dir], BN * Di);
    // A = -exp(A_log) (MODEL.md 2) in float64 on the host, where the parameters live.
    const float* Alog = params_.get(pre + (dir ? "mixer.A_b_log" : "mixer.A_log"));
    for (size_t k = 0; k < A_host.size(); ++k) A_host[k] = float(-std::exp(double(Alog[k])));
    a.A[dir] = ar.alloc_f32(A_host.size());
    be.upload(a.A[dir], A_host.data(), A_host.size() * sizeof(float));
    for (int b = 0; b < B; ++b) {
      const int64_t t0 = int64_t(b) * N;
      be.selective_scan_forward(a.ysum + t0 * Di, a.u[dir] + t0 * Di, a.delta[dir] + t0 * Di, a.A[dir],
                                a.xdbl[dir] + t0 * xs + R, a.xdbl[dir] + t0 * xs + R + Ns,
                                P(pre + (dir ? "mixer.D_b" : "mixer.D")), a.xz + t0 * 2 * Di + Di, N, Di, Ns, xs,
                                2 * Di, reverse, /*accumulate=*/reverse, /*delta_softplus=*/false);
    }
  }
  lin_forward(x_out, a.ysum, pre + "mixer.out_proj.weight", "", int(BN), Di, C);
  if (!keep) {
    ar.reset(m0);
    float* res = a.res;
    a = MambaActs();
    a.res = res;
  }
}

// dres += d/d(res) of <dx_out, mixer(RMSNorm(res))>; mixer parameter gradients accumulate.
void DimbaTrainer::mamba_backward(int j, const float* dx_out, float* dres, MambaActs& a) {
  const Backend& be = be_;
  const int B = B_, N = N_, C = cfg_.hidden_size, Di = cfg_.d_inner(), Ns = cfg_.d_state, R = cfg_.dt_rank_resolved();
  const int K = cfg_.d_conv, xs = R + 2 * Ns;
  const int64_t BN = int64_t(B) * N;
  if (!a.xz) {  // checkpointed: recompute
    float* tmp = arena_->alloc_f32(size_t(BN) * C);
    mamba_forward(j, tmp, a, true);
  }
  const std::string pre = "mamba_blocks." + std::to_string(j) + ".";

  float *dysum = zeros(size_t(BN) * Di), *dxz = zeros(size_t(BN) * 2 * Di);
  lin_backward(dysum, dx_out, a.ysum, pre + "mixer.out_proj.weight", "", int(BN), Di, C);
  for (int dir = 0; dir < 2; ++dir) {
    const std::string s = dir ? "_b" : "";
    const bool reverse = dir == 1;
    const size_t m = arena_->mark();
    float *du = zeros(size_t(BN) * Di), *ddelta = zeros(size_t(BN) * Di), *dA = zeros(size_t(Di) * Ns);
    float *dxdbl = zeros(size_t(BN) * xs), *ddpre = zeros(size_t(BN) * Di), *ddt = zeros(size_t(BN) * R);
    float* dcpre = zeros(size_t(BN) * Di);
    // y (+)= scan(u, delta, A, B, C, D, z): both directions read the same dy (y_fwd + flip(y_bwd)).
    for (int b = 0; b < B; ++b) {
      const int64_t t0 = int64_t(b) * N;
      be.selective_scan_backward(du + t0 * Di, ddelta + t0 * Di, dA, dxdbl + t0 * xs + R, dxdbl + t0 * xs + R + Ns,
                                 G(pre + (dir ? "mixer.D_b" : "mixer.D")), dxz + t0 * 2 * Di + Di, dysum + t0 * Di,
                                 a.u[dir] + t0 * Di, a.delta[dir] + t0 * Di, a.A[dir], a.xdbl[dir] + t0 * xs + R,
                                 a.xdbl[dir] + t0 * xs + R + Ns, P(pre + (dir ? "mixer.D_b" : "mixer.D")),
                                 a.xz + t0 * 2 * Di + Di, N, Di, Ns, xs, 2 * Di, xs, 2 * Di, reverse);
    }
    // A = -exp(A_log): dA_log += dA * A.
    be.mul_forward(dA, dA, a.A[dir], int64_t(Di) * Ns);
    be.add_backward(G(pre + (dir ? "mixer.A_b_log" : "mixer.A_log")), nullptr, dA, int64_t(Di) * Ns);
    be.softplus_backward(ddpre, ddelta, a.dpre[dir], BN * Di);
    lin_backward(ddt, ddpre, a.dt[dir], pre + "mixer.dt_proj" + s + ".weight", pre + "mixer.dt_proj" + s + ".bias",
                 int(BN), R, Di);
    // dxdbl's dt_raw columns: the scan wrote only the B and C columns, so these are still 0
    // and copying ddt in equals adding it.
    be.copy_rows_forward(dxdbl, ddt, BN, R, xs, R);
    lin_backward(du, dxdbl, a.u[dir], pre + "mixer.x_proj" + s + ".weight", "", int(BN), Di, xs);
    be.silu_backward(dcpre, du, a.cpre[dir], BN * Di);
    for (int b = 0; b < B; ++b)
      be.conv1d_causal_depthwise_backward(dxz + size_t(b) * N * 2 * Di, G(pre + "mixer.conv1d" + s + ".weight"),
                                          G(pre + "mixer.conv1d" + s + ".bias"), dcpre + size_t(b) * N * Di,
                                          a.xz + size_t(b) * N * 2 * Di, P(pre + "mixer.conv1d" + s + ".weight"), N,
                                          Di, K, 2 * Di, reverse);
    arena_->reset(m);
  }
  float* dhn = zeros(size_t(BN) * C);
  lin_backward(dhn, dxz, a.hn, pre + "mixer.in_proj.weight", "", int(BN), C, 2 * Di);
  be.rmsnorm_backward(dres, G(pre + "norm.weight"), dhn, a.res, P(pre + "norm.weight"), a.rstd, BN, C);
}

void DimbaTrainer::forward(float* out, const float* x, const float* t, const float* y, const int* y_lens, int B, int H,
                           int W, int L, const uint8_t* drop) {
  const DimbaConfig& c = cfg_;
  const Backend& be = be_;
  Arena& ar = *arena_;
  const int p = c.patch_size, C = c.hidden_size, Ccap = c.caption_channels;
  auto bad = [](const std::string& m) {
    throw EngineError(ErrorCode::InvalidArgument, "Dimba training forward: " + m);
  };
  if (B < 1 || H < p || W < p || H % p || W % p || L < 1) bad("bad sizes");
  if (drop && L != c.model_max_length) bad("caption dropout needs L == model_max_length");
  std::vector<int> lens(size_t(B), L);
  if (y_lens)
    for (int b = 0; b < B; ++b) {
      if (y_lens[b] < 0 || y_lens[b] > L) bad("y_lens outside 0..L");
      lens[size_t(b)] = y_lens[b];
    }
  ScopedFlushDenormals ftz;  // MODEL.md 3
  B_ = B, H_ = H, W_ = W, L_ = L;
  const int h = H / p, w = W / p, N = h * w;
  N_ = N;
  const int64_t BN = int64_t(B) * N;
  pdev_->upload();  // the optimiser changed the host parameters since the last forward
  if (lora_dev_) lora_dev_->upload();
  ar.reset(0);
  blocks_.assign(size_t(c.depth), BlockActs());
  mambas_.assign(size_t(c.mamba_depth()), MambaActs());

  // The inputs, copied into backend memory (backward reads x and the caption again).
  const size_t n_out = size_t(B) * c.out_channels * H * W, n_x = size_t(B) * c.in_channels * H * W;
  float* out_d = output_buffer(be, ar, out, n_out);
  x_in_ = ar.alloc_f32(n_x);
  be.upload(x_in_, x, n_x * sizeof(float));
  float* t_d = ar.alloc_f32(size_t(B));
  be.upload(t_d, t, size_t(B) * sizeof(float));
  lens_d_ = static_cast<int*>(ar.alloc(size_t(B) * sizeof(int)));
  be.upload(lens_d_, lens.data(), size_t(B) * sizeof(int));
  drop_.assign(size_t(B), 0);
  if (drop) drop_.assign(drop, drop + B);
  // Caption dropout (MODEL.md 7): a dropped sample's caption is the learned null caption.
  y_eff_ = ar.alloc_f32(size_t(B) * L * Ccap);
  for (int b = 0; b < B; ++b) {
    float* yb = y_eff_ + size_t(b) * L * Ccap;
    if (drop_[size_t(b)])
      be.copy_rows_forward(yb, P("y_embedder.y_embedding"), L, Ccap, Ccap, Ccap);
    else
      be.upload(yb, y + size_t(b) * L * Ccap, size_t(L) * Ccap * sizeof(float));
  }

  // 1-2. patch embedding + position embedding
  float* xs = ar.alloc_f32(size_t(BN) * C);  // the block stream; after the blocks, the final layer's input
  be.patch_embed_forward(xs, x_in_, P("x_embedder.proj.weight"), DType::F32, P("x_embedder.proj.bias"), B,
                         c.in_channels, H, W, p, C);
  {
    const size_t m = ar.mark();
    float* pe = ar.alloc_f32(size_t(N) * C);
    be.sincos_pos_embed_2d(pe, C, h, w, double(c.input_size / p), c.pe_interpolation);
    for (int b = 0; b < B; ++b) be.add_forward(xs + size_t(b) * N * C, xs + size_t(b) * N * C, pe, int64_t(N) * C);
    ar.reset(m);
  }
  // 3-4. timestep path
  tf_ = ar.alloc_f32(size_t(B) * 256);
  th_ = ar.alloc_f32(size_t(B) * C);
  ts_ = ar.alloc_f32(size_t(B) * C);
  temb_ = ar.alloc_f32(size_t(B) * C);
  tsi_ = ar.alloc_f32(size_t(B) * C);
  t0_ = ar.alloc_f32(size_t(B) * 6 * C);
  be.timestep_embedding_forward(tf_, t_d, B, 256, 10000.0);
  be.linear_forward(th_, tf_, P("t_embedder.mlp.0.weight"), DType::F32, P("t_embedder.mlp.0.bias"), B, 256, C, false);
  be.silu_forward(ts_, th_, int64_t(B) * C);
  be.linear_forward(temb_, ts_, P("t_embedder.mlp.2.weight"), DType::F32, P("t_embedder.mlp.2.bias"), B, C, C, false);
  be.silu_forward(tsi_, temb_, int64_t(B) * C);
  be.linear_forward(t0_, tsi_, P("t_block.1.weight"), DType::F32, P("t_block.1.bias"), B, C, 6 * C, false);
  // 5. caption projection on all L tokens
  y1_ = ar.alloc_f32(size_t(B) * L * C);
  yg_ = ar.alloc_f32(size_t(B) * L * C);
  yy_ = ar.alloc_f32(size_t(B) * L * C);
  be.linear_forward(y1_, y_eff_, P("y_embedder.y_proj.fc1.weight"), DType::F32, P("y_embedder.y_proj.fc1.bias"), B * L,
                    Ccap, C, false);
  be.gelu_tanh_forward(yg_, y1_, int64_t(B) * L * C);
  be.linear_forward(yy_, yg_, P("y_embedder.y_proj.fc2.weight"), DType::F32, P("y_embedder.y_proj.fc2.bias"), B * L,
                    C, C, false);
  // 7. blocks with the Mamba residual dataflow (MODEL.md 2.7)
  const bool keep = !checkpointing_;
  const size_t blocks_begin = ar.mark();
  const MambaActs* prev = nullptr;
  for (int i = 0; i < c.depth; ++i) {
    block_forward(i, xs, blocks_[size_t(i)], keep);
    const int j = c.mamba_after_block(i);
    if (j < 0) continue;
    MambaActs& m = mambas_[size_t(j)];
    // Quirk: residual = x (first) or x + residual; the mixer output replaces x.
    m.res = ar.alloc_f32(size_t(BN) * C);
    if (prev)
      be.add_forward(m.res, xs, prev->res, BN * C);
    else
      be.copy_rows_forward(m.res, xs, BN, C, C, C);
    mamba_forward(j, xs, m, keep);
    prev = &m;
  }
  saved_bytes_ = ar.mark() - blocks_begin;
  // 8. final layer modulated by temb (quirk), 9. unpatchify
  const int out_row = p * p * c.out_channels;
  xf_ = xs;
  fmean_ = ar.alloc_f32(size_t(BN));
  frstd_ = ar.alloc_f32(size_t(BN));
  fln_ = ar.alloc_f32(size_t(BN) * C);
  fh_ = ar.alloc_f32(size_t(BN) * C);
  fo_ = ar.alloc_f32(size_t(BN) * out_row);
  {
    const size_t m = ar.mark();
    float* mod = ar.alloc_f32(size_t(B) * 2 * C);
    const float* table = P("final_layer.scale_shift_table");
    for (int b = 0; b < B; ++b) {
      be.add_forward(mod + size_t(b) * 2 * C, table, temb_ + size_t(b) * C, C);
      be.add_forward(mod + size_t(b) * 2 * C + C, table + C, temb_ + size_t(b) * C, C);
    }
    be.layernorm_forward(fln_, fmean_, frstd_, xf_, nullptr, nullptr, BN, C, 1e-6f);
    be.modulate_forward(fh_, fln_, mod, mod + C, B, N, C, 2 * C);
    be.linear_forward(fo_, fh_, P("final_layer.linear.weight"), DType::F32, P("final_layer.linear.bias"), int(BN), C,
                      out_row, false);
    be.unpatchify_forward(out_d, fo_, B, c.out_channels, h, w, p);
    ar.reset(m);
  }
  forward_top_ = ar.mark();
  stage_out(be, out, out_d, n_out);
}

void DimbaTrainer::backward(const float* dout) {
  const DimbaConfig& c = cfg_;
  const Backend& be = be_;
  Arena& ar = *arena_;
  const int B = B_, L = L_, N = N_, p = c.patch_size, C = c.hidden_size, Ccap = c.caption_channels;
  const int h = H_ / p, w = W_ / p, out_row = p * p * c.out_channels;
  const int64_t BN = int64_t(B) * N;
  DIMBA_CHECK(B > 0 && fo_ != nullptr);
  ScopedFlushDenormals ftz;
  ar.reset(forward_top_);
  // The host gradients may have been zeroed (or hold an earlier step's, to accumulate onto).
  gdev_->upload();
  if (lora_gdev_) lora_gdev_->upload();
  const float* dout_d = stage_in(be, ar, dout, size_t(B) * c.out_channels * H_ * W_);
  dyy_ = zeros(size_t(B) * L * C);
  dt0_ = zeros(size_t(B) * 6 * C);
  float* dtemb = zeros(size_t(B) * C);
  float* dx = zeros(size_t(BN) * C);

  // 9-8. unpatchify, final layer
  {
    const size_t m = ar.mark();
    float *dfo = zeros(size_t(BN) * out_row), *dh = zeros(size_t(BN) * C), *dln = zeros(size_t(BN) * C);
    float *dmod = zeros(size_t(B) * 2 * C), *mod = ar.alloc_f32(size_t(B) * 2 * C);
    const float* table = P("final_layer.scale_shift_table");
    for (int b = 0; b < B; ++b) be.add_forward(mod + size_t(b) * 2 * C + C, table + C, temb_ + size_t(b) * C, C);
    be.unpatchify_backward(dfo, dout_d, B, c.out_channels, h, w, p);
    lin_backward(dh, dfo, fh_, "final_layer.linear.weight", "final_layer.linear.bias", int(BN), C, out_row);
    be.modulate_backward(dln, dmod, dmod + C, dh, fln_, mod + C, B, N, C, 2 * C);
    be.layernorm_backward(dx, nullptr, nullptr, dln, xf_, nullptr, fmean_, frstd_, BN, C);
    // mod[b] = table + [temb[b] | temb[b]]
    be.add_row_backward(nullptr, G("final_layer.scale_shift_table"), dmod, B, 2 * C);
    for (int b = 0; b < B; ++b) {
      be.add_backward(dtemb + size_t(b) * C, nullptr, dmod + size_t(b) * 2 * C, C);
      be.add_backward(dtemb + size_t(b) * C, nullptr, dmod + size_t(b) * 2 * C + C, C);
    }
    ar.reset(m);
  }
  // 7. blocks in reverse. dres: the gradient of the Mamba residual stream, carried down
  // through every residual add (res_j = x + res_{j-1}).
  float* dres = zeros(size_t(BN) * C);
  for (int i = c.depth - 1; i >= 0; --i) {
    const int j = c.mamba_after_block(i);
    if (j >= 0) {
      // dx is the gradient of mixer j's output; x_i reaches the loss only through res_j.
      const size_t m = ar.mark();
      mamba_backward(j, dx, dres, mambas_[size_t(j)]);
      ar.reset(m);
      be.copy_rows_forward(dx, dres, BN, C, C, C);
    }
    const size_t m = ar.mark();
    block_backward(i, dx, blocks_[size_t(i)]);
    ar.reset(m);
  }
  if (checkpointing_) {  // the recomputed activations are gone with the scratch
    for (BlockActs& a : blocks_) a = BlockActs{a.x_in};
    for (MambaActs& a : mambas_) {
      float* res = a.res;
      a = MambaActs();
      a.res = res;
    }
  }
  // 1. patch embedding (the position embedding is a constant)
  if (!lora_)  // under LoRA the patch embedding is frozen and its input needs no gradient
    be.patch_embed_backward(nullptr, G("x_embedder.proj.weight"), G("x_embedder.proj.bias"), dx, x_in_,
                            P("x_embedder.proj.weight"), B, c.in_channels, H_, W_, p, C);
  // 5. caption projection (and the null caption of dropped samples)
  {
    const size_t m = ar.mark();
    float *dyg = zeros(size_t(B) * L * C), *dy1 = zeros(size_t(B) * L * C);
    lin_backward(dyg, dyy_, yg_, "y_embedder.y_proj.fc2.weight", "y_embedder.y_proj.fc2.bias", B * L, C, C);
    be.gelu_tanh_backward(dy1, dyg, y1_, int64_t(B) * L * C);
    bool any_drop = false;
    for (uint8_t d : drop_) any_drop = any_drop || d;
    float* dy = any_drop ? zeros(size_t(B) * L * Ccap) : nullptr;
    lin_backward(dy, dy1, y_eff_, "y_embedder.y_proj.fc1.weight", "y_embedder.y_proj.fc1.bias", B * L, Ccap, C);
    if (any_drop) {
      float* dnull = G("y_embedder.y_embedding");
      for (int b = 0; b < B; ++b)
        if (drop_[size_t(b)]) be.add_backward(dnull, nullptr, dy + size_t(b) * L * Ccap, int64_t(L) * Ccap);
    }
    ar.reset(m);
  }
  // 3-4. timestep path: t0 = t_block(silu(temb)), temb = mlp2(silu(mlp0(tf)))
  {
    float *dtsi = zeros(size_t(B) * C), *dts = zeros(size_t(B) * C), *dth = zeros(size_t(B) * C);
    lin_backward(dtsi, dt0_, tsi_, "t_block.1.weight", "t_block.1.bias", B, C, 6 * C);
    be.silu_backward(dtemb, dtsi, temb_, int64_t(B) * C);
    lin_backward(dts, dtemb, ts_, "t_embedder.mlp.2.weight", "t_embedder.mlp.2.bias", B, C, C);
    be.silu_backward(dth, dts, th_, int64_t(B) * C);
    lin_backward(nullptr, dth, tf_, "t_embedder.mlp.0.weight", "t_embedder.mlp.0.bias", B, 256, C);
  }
  gdev_->download();
  if (lora_gdev_) lora_gdev_->download();
  ar.reset(forward_top_);
}

}  // namespace dimba
