// The Dimba training forward (saving activations) and backward, op by op with the CPU
// backend's forward/backward pairs (backend/cpu/ops.h, gemm.h). The forward is the same
// computation as models/dimba*.cpp (MODEL.md section 2), written again here because it must
// keep its intermediates; every backward line mirrors a forward line, in reverse.
// defines: ParamSet members, DimbaTrainer members
#include "training/dimba_train.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/fpenv.h"
#include "core/tensor.h"
#include "training/lora.h"

namespace dimba {

using namespace cpu;
using Vec = std::vector<float>;

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

void release(Vec& v) { Vec().swap(v); }
Vec zeros(size_t n) { return Vec(n, 0.0f); }

}  // namespace

DimbaTrainer::DimbaTrainer(const DimbaConfig& cfg, ParamSet& params, Lora* lora, double lora_strength)
    : cfg_(cfg), params_(params) {
  cfg_.validate();
  attach_lora(lora, lora_strength);  // allocates the gradients for the chosen layout
}

size_t DimbaTrainer::saved_activation_bytes() const {
  size_t n = 0;
  for (const BlockActs& a : blocks_)
    for (const Vec* v : {&a.x_in, &a.mod, &a.mean1, &a.rstd1, &a.ln1, &a.h1, &a.qkv, &a.a1, &a.o1, &a.x1, &a.q, &a.kv,
                         &a.a2, &a.x2, &a.mean2, &a.rstd2, &a.ln2, &a.h2, &a.pre, &a.act, &a.m})
      n += v->size();
  for (const MambaActs& a : mambas_) {
    n += a.res.size() + a.rstd.size() + a.hn.size() + a.xz.size() + a.ysum.size();
    for (int d = 0; d < 2; ++d)
      n += a.cpre[d].size() + a.u[d].size() + a.xdbl[d].size() + a.dt[d].size() + a.dpre[d].size() +
           a.delta[d].size() + a.A[d].size();
  }
  return n * sizeof(float);
}

void DimbaTrainer::attach_lora(Lora* lora, double strength) {
  lora_ = lora;
  lora_strength_ = strength;
  if (!lora) {
    grads_ = ParamSet::zeros_like(params_);
    return;
  }
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
}

void DimbaTrainer::lin_forward(float* y, const float* x, const std::string& w, const std::string& b, int M, int K,
                               int N, bool accumulate) {
  linear_forward(y, x, params_.get(w), DType::F32, b.empty() ? nullptr : params_.get(b), M, K, N, accumulate);
  const float* A = lora_ ? lora_->A(w) : nullptr;
  if (!A) return;
  // y += s * (x A^T) B^T, s = strength * alpha / r
  const int r = lora_->cfg.rank;
  Vec xa(size_t(M) * r);
  sgemm(false, true, M, r, K, 1.0f, x, K, A, K, 0.0f, xa.data(), r);
  sgemm(false, true, M, N, r, float(lora_strength_ * lora_->scale()), xa.data(), r, lora_->B(w), r, 1.0f, y, N);
}

void DimbaTrainer::lin_backward(float* dx, const float* dy, const float* x, const std::string& w, const std::string& b,
                                int M, int K, int N) {
  const bool base = lora_ == nullptr;  // under LoRA the base is frozen: no dW, db
  linear_backward(dx, base ? grads_.get(w) : nullptr, base && !b.empty() ? grads_.get(b) : nullptr, dy, x,
                  params_.get(w), M, K, N);
  const float* A = lora_ ? lora_->A(w) : nullptr;
  if (!A) return;
  const int r = lora_->cfg.rank;
  const float s = float(lora_strength_ * lora_->scale());
  const float* Bm = lora_->B(w);
  Vec xa(size_t(M) * r), dyb(size_t(M) * r);
  sgemm(false, true, M, r, K, 1.0f, x, K, A, K, 0.0f, xa.data(), r);      // x A^T   (M, r)
  sgemm(false, false, M, r, N, 1.0f, dy, N, Bm, r, 0.0f, dyb.data(), r);  // dy B    (M, r)
  sgemm(true, false, N, r, M, s, dy, N, xa.data(), r, 1.0f, lora_->grads.get(w + ".lora_B"), r);  // dB += s dy^T xA
  sgemm(true, false, r, K, M, s, dyb.data(), r, x, K, 1.0f, lora_->grads.get(w + ".lora_A"), K);  // dA += s (dyB)^T x
  if (dx) sgemm(false, false, M, K, r, s, dyb.data(), r, A, K, 1.0f, dx, K);                      // dx += s dyB A
}

// DimbaBlock i on x (B, N, C) in place (dimba_block.cpp's computation), keeping activations.
void DimbaTrainer::block_forward(int i, float* x, BlockActs& a, bool keep) {
  const int B = B_, N = N_, L = L_, C = cfg_.hidden_size, Hh = cfg_.num_heads, hd = C / Hh, Hm = cfg_.mlp_hidden();
  const int64_t BN = int64_t(B) * N;
  const size_t nC = size_t(BN) * C;
  const std::string pre = "blocks." + std::to_string(i) + ".";
  auto P = [&](const char* n) { return params_.get(pre + n); };

  a.x_in.assign(x, x + nC);
  a.mod.resize(size_t(B) * 6 * C);
  for (int b = 0; b < B; ++b)
    add_forward(a.mod.data() + size_t(b) * 6 * C, t0_.data() + size_t(b) * 6 * C, P("scale_shift_table"), 6 * C);
  const float* mod = a.mod.data();
  // self-attention
  a.mean1.resize(size_t(BN));
  a.rstd1.resize(size_t(BN));
  a.ln1.resize(nC);
  a.h1.resize(nC);
  layernorm_forward(a.ln1.data(), a.mean1.data(), a.rstd1.data(), x, nullptr, nullptr, BN, C, 1e-6f);
  modulate_forward(a.h1.data(), a.ln1.data(), mod, mod + C, B, N, C, 6 * C);
  a.qkv.resize(nC * 3);
  lin_forward(a.qkv.data(), a.h1.data(), pre + "attn.qkv.weight", pre + "attn.qkv.bias", int(BN), C, 3 * C);
  a.a1.resize(nC);
  attention_forward(a.a1.data(), a.qkv.data(), a.qkv.data() + C, a.qkv.data() + 2 * C, nullptr, B, N, N, Hh, hd,
                    3 * C, 3 * C, C);
  a.o1.resize(nC);
  lin_forward(a.o1.data(), a.a1.data(), pre + "attn.proj.weight", pre + "attn.proj.bias", int(BN), C, C);
  gated_residual_forward(x, a.o1.data(), mod + 2 * C, B, N, C, 6 * C);
  a.x1.assign(x, x + nC);
  // cross-attention to the sample's own text tokens (MODEL.md 2.6)
  a.q.resize(nC);
  a.kv.resize(size_t(B) * L * 2 * C);
  a.a2.resize(nC);
  lin_forward(a.q.data(), x, pre + "cross_attn.q_linear.weight", pre + "cross_attn.q_linear.bias", int(BN), C,
                 C);
  lin_forward(a.kv.data(), yy_.data(), pre + "cross_attn.kv_linear.weight", pre + "cross_attn.kv_linear.bias", B * L, C,
              2 * C);
  attention_forward(a.a2.data(), a.q.data(), a.kv.data(), a.kv.data() + C, lens_.data(), B, N, L, Hh, hd, C, 2 * C, C);
  lin_forward(x, a.a2.data(), pre + "cross_attn.proj.weight", pre + "cross_attn.proj.bias", int(BN), C, C,
                 true);
  a.x2.assign(x, x + nC);
  // MLP
  a.mean2.resize(size_t(BN));
  a.rstd2.resize(size_t(BN));
  a.ln2.resize(nC);
  a.h2.resize(nC);
  layernorm_forward(a.ln2.data(), a.mean2.data(), a.rstd2.data(), x, nullptr, nullptr, BN, C, 1e-6f);
  modulate_forward(a.h2.data(), a.ln2.data(), mod + 3 * C, mod + 4 * C, B, N, C, 6 * C);
  a.pre.resize(size_t(BN) * Hm);
  a.act.resize(size_t(BN) * Hm);
  a.m.resize(nC);
  lin_forward(a.pre.data(), a.h2.data(), pre + "mlp.fc1.weight", pre + "mlp.fc1.bias", int(BN), C, Hm);
  gelu_tanh_forward(a.act.data(), a.pre.data(), BN * Hm);
  lin_forward(a.m.data(), a.act.data(), pre + "mlp.fc2.weight", pre + "mlp.fc2.bias", int(BN), Hm, C);
  gated_residual_forward(x, a.m.data(), mod + 5 * C, B, N, C, 6 * C);
  if (!keep) {  // checkpointing: only the block input survives until backward
    for (Vec* v : {&a.mod, &a.mean1, &a.rstd1, &a.ln1, &a.h1, &a.qkv, &a.a1, &a.o1, &a.x1, &a.q, &a.kv, &a.a2, &a.x2,
                   &a.mean2, &a.rstd2, &a.ln2, &a.h2, &a.pre, &a.act, &a.m})
      release(*v);
  }
}

// dx (B, N, C): in, the gradient of the block output; out, of the block input. Parameter
// gradients, dyy and dt0 accumulate.
void DimbaTrainer::block_backward(int i, float* dx, BlockActs& a) {
  if (a.qkv.empty()) {  // checkpointed: recompute this block's activations from its input
    Vec x = a.x_in;
    block_forward(i, x.data(), a, true);
  }
  const int B = B_, N = N_, L = L_, C = cfg_.hidden_size, Hh = cfg_.num_heads, hd = C / Hh, Hm = cfg_.mlp_hidden();
  const int64_t BN = int64_t(B) * N;
  const size_t nC = size_t(BN) * C;
  const std::string pre = "blocks." + std::to_string(i) + ".";
  auto G = [&](const char* n) { return grads_.get(pre + n); };
  const float* mod = a.mod.data();
  Vec dmod = zeros(size_t(B) * 6 * C);

  // MLP: x_out = x2 + gate_mlp * fc2(gelu(fc1(modulate(LN(x2))))); dx carries on as dx2.
  {
    Vec dm = zeros(nC), dact = zeros(size_t(BN) * Hm), dpre = zeros(size_t(BN) * Hm), dh2 = zeros(nC), dln2 = zeros(nC);
    gated_residual_backward(dm.data(), dmod.data() + 5 * C, dx, a.m.data(), mod + 5 * C, B, N, C, 6 * C);
    lin_backward(dact.data(), dm.data(), a.act.data(), pre + "mlp.fc2.weight", pre + "mlp.fc2.bias", int(BN), Hm, C);
    gelu_tanh_backward(dpre.data(), dact.data(), a.pre.data(), BN * Hm);
    lin_backward(dh2.data(), dpre.data(), a.h2.data(), pre + "mlp.fc1.weight", pre + "mlp.fc1.bias", int(BN), C, Hm);
    modulate_backward(dln2.data(), dmod.data() + 3 * C, dmod.data() + 4 * C, dh2.data(), a.ln2.data(), mod + 4 * C, B,
                      N, C, 6 * C);
    layernorm_backward(dx, nullptr, nullptr, dln2.data(), a.x2.data(), nullptr, a.mean2.data(), a.rstd2.data(), BN, C);
  }
  // cross-attention: x2 = x1 + proj(attn(q_linear(x1), kv_linear(yy))); dx carries on as dx1.
  {
    Vec da2 = zeros(nC), dq = zeros(nC), dkv = zeros(size_t(B) * L * 2 * C);
    lin_backward(da2.data(), dx, a.a2.data(), pre + "cross_attn.proj.weight", pre + "cross_attn.proj.bias", int(BN), C,
                 C);
    attention_backward(dq.data(), dkv.data(), dkv.data() + C, da2.data(), a.q.data(), a.kv.data(), a.kv.data() + C,
                       lens_.data(), B, N, L, Hh, hd, C, 2 * C, C);
    lin_backward(dx, dq.data(), a.x1.data(), pre + "cross_attn.q_linear.weight", pre + "cross_attn.q_linear.bias",
                 int(BN), C, C);
    lin_backward(dyy_.data(), dkv.data(), yy_.data(), pre + "cross_attn.kv_linear.weight",
                 pre + "cross_attn.kv_linear.bias",
                 B * L, C, 2 * C);
  }
  // self-attention: x1 = x_in + gate_msa * proj(attn(qkv(modulate(LN(x_in))))).
  {
    Vec do1 = zeros(nC), da1 = zeros(nC), dqkv = zeros(nC * 3), dh1 = zeros(nC), dln1 = zeros(nC);
    gated_residual_backward(do1.data(), dmod.data() + 2 * C, dx, a.o1.data(), mod + 2 * C, B, N, C, 6 * C);
    lin_backward(da1.data(), do1.data(), a.a1.data(), pre + "attn.proj.weight", pre + "attn.proj.bias", int(BN), C, C);
    attention_backward(dqkv.data(), dqkv.data() + C, dqkv.data() + 2 * C, da1.data(), a.qkv.data(), a.qkv.data() + C,
                       a.qkv.data() + 2 * C, nullptr, B, N, N, Hh, hd, 3 * C, 3 * C, C);
    lin_backward(dh1.data(), dqkv.data(), a.h1.data(), pre + "attn.qkv.weight", pre + "attn.qkv.bias", int(BN), C,
                 3 * C);
    modulate_backward(dln1.data(), dmod.data(), dmod.data() + C, dh1.data(), a.ln1.data(), mod + C, B, N, C, 6 * C);
    layernorm_backward(dx, nullptr, nullptr, dln1.data(), a.x_in.data(), nullptr, a.mean1.data(), a.rstd1.data(), BN,
                       C);
  }
  // mod[b] = scale_shift_table + t0[b]
  float* dtable = G("scale_shift_table");
  for (int b = 0; b < B; ++b)
    for (int k = 0; k < 6 * C; ++k) {
      dtable[k] += dmod[size_t(b) * 6 * C + k];
      dt0_[size_t(b) * 6 * C + k] += dmod[size_t(b) * 6 * C + k];
    }
  if (checkpointing_) {  // drop the recomputed activations again
    Vec keep = std::move(a.x_in);
    a = BlockActs();
    a.x_in = std::move(keep);
  }
}

// Mamba block j: x_out = mixer(RMSNorm(a.res)) (mamba_block.cpp's computation), keeping
// activations; a.res is set by the caller.
void DimbaTrainer::mamba_forward(int j, float* x_out, MambaActs& a, bool keep) {
  const int B = B_, N = N_, C = cfg_.hidden_size, Di = cfg_.d_inner(), Ns = cfg_.d_state, R = cfg_.dt_rank_resolved();
  const int K = cfg_.d_conv, xs = R + 2 * Ns;
  const int64_t BN = int64_t(B) * N;
  const std::string pre = "mamba_blocks." + std::to_string(j) + ".";
  auto P = [&](const std::string& n) { return params_.get(pre + n); };

  a.rstd.resize(size_t(BN));
  a.hn.resize(size_t(BN) * C);
  rmsnorm_forward(a.hn.data(), a.rstd.data(), a.res.data(), P("norm.weight"), BN, C, 1e-5f);
  a.xz.resize(size_t(BN) * 2 * Di);
  lin_forward(a.xz.data(), a.hn.data(), pre + "mixer.in_proj.weight", "", int(BN), C, 2 * Di);
  a.ysum.resize(size_t(BN) * Di);
  for (int dir = 0; dir < 2; ++dir) {
    const std::string s = dir ? "_b" : "";
    const bool reverse = dir == 1;
    a.cpre[dir].resize(size_t(BN) * Di);
    a.u[dir].resize(size_t(BN) * Di);
    for (int b = 0; b < B; ++b)
      conv1d_causal_depthwise_forward(a.cpre[dir].data() + size_t(b) * N * Di, a.xz.data() + size_t(b) * N * 2 * Di,
                                      P("mixer.conv1d" + s + ".weight"), P("mixer.conv1d" + s + ".bias"), N, Di, K,
                                      2 * Di, reverse);
    silu_forward(a.u[dir].data(), a.cpre[dir].data(), BN * Di);
    a.xdbl[dir].resize(size_t(BN) * xs);
    lin_forward(a.xdbl[dir].data(), a.u[dir].data(), pre + "mixer.x_proj" + s + ".weight", "", int(BN), Di, xs);
    a.dt[dir].resize(size_t(BN) * R);
    for (int64_t r = 0; r < BN; ++r)
      std::memcpy(a.dt[dir].data() + r * R, a.xdbl[dir].data() + r * xs, size_t(R) * sizeof(float));
    a.dpre[dir].resize(size_t(BN) * Di);
    a.delta[dir].resize(size_t(BN) * Di);
    lin_forward(a.dpre[dir].data(), a.dt[dir].data(), pre + "mixer.dt_proj" + s + ".weight",
                pre + "mixer.dt_proj" + s + ".bias", int(BN), R, Di);
    softplus_forward(a.delta[dir].data(), a.dpre[dir].data(), BN * Di);
    const float* Alog = P(dir ? "mixer.A_b_log" : "mixer.A_log");
    a.A[dir].resize(size_t(Di) * Ns);
    for (size_t k = 0; k < a.A[dir].size(); ++k) a.A[dir][k] = float(-std::exp(double(Alog[k])));  // MODEL.md 2
    for (int b = 0; b < B; ++b) {
      const int64_t t0 = int64_t(b) * N;
      selective_scan_forward(a.ysum.data() + t0 * Di, a.u[dir].data() + t0 * Di, a.delta[dir].data() + t0 * Di,
                             a.A[dir].data(), a.xdbl[dir].data() + t0 * xs + R, a.xdbl[dir].data() + t0 * xs + R + Ns,
                             P(dir ? "mixer.D_b" : "mixer.D"), a.xz.data() + t0 * 2 * Di + Di, N, Di, Ns, xs, 2 * Di,
                             reverse, /*accumulate=*/reverse);
    }
  }
  lin_forward(x_out, a.ysum.data(), pre + "mixer.out_proj.weight", "", int(BN), Di, C);
  if (!keep) {
    for (Vec* v : {&a.rstd, &a.hn, &a.xz, &a.ysum}) release(*v);
    for (int d = 0; d < 2; ++d)
      for (Vec* v : {&a.cpre[d], &a.u[d], &a.xdbl[d], &a.dt[d], &a.dpre[d], &a.delta[d], &a.A[d]}) release(*v);
  }
}

// dres += d/d(res) of <dx_out, mixer(RMSNorm(res))>; mixer parameter gradients accumulate.
void DimbaTrainer::mamba_backward(int j, const float* dx_out, float* dres, MambaActs& a) {
  if (a.xz.empty()) {  // checkpointed: recompute
    Vec tmp(a.res.size());
    mamba_forward(j, tmp.data(), a, true);
  }
  const int B = B_, N = N_, C = cfg_.hidden_size, Di = cfg_.d_inner(), Ns = cfg_.d_state, R = cfg_.dt_rank_resolved();
  const int K = cfg_.d_conv, xs = R + 2 * Ns;
  const int64_t BN = int64_t(B) * N;
  const std::string pre = "mamba_blocks." + std::to_string(j) + ".";
  auto P = [&](const std::string& n) { return params_.get(pre + n); };
  auto G = [&](const std::string& n) { return grads_.get(pre + n); };

  Vec dysum = zeros(size_t(BN) * Di), dxz = zeros(size_t(BN) * 2 * Di);
  lin_backward(dysum.data(), dx_out, a.ysum.data(), pre + "mixer.out_proj.weight", "", int(BN), Di, C);
  for (int dir = 0; dir < 2; ++dir) {
    const std::string s = dir ? "_b" : "";
    const bool reverse = dir == 1;
    Vec du = zeros(size_t(BN) * Di), ddelta = zeros(size_t(BN) * Di), dA = zeros(size_t(Di) * Ns);
    Vec dxdbl = zeros(size_t(BN) * xs), ddpre = zeros(size_t(BN) * Di), ddt = zeros(size_t(BN) * R);
    Vec dcpre = zeros(size_t(BN) * Di);
    // y (+)= scan(u, delta, A, B, C, D, z): both directions read the same dy (y_fwd + flip(y_bwd)).
    for (int b = 0; b < B; ++b) {
      const int64_t t0 = int64_t(b) * N;
      selective_scan_backward(du.data() + t0 * Di, ddelta.data() + t0 * Di, dA.data(), dxdbl.data() + t0 * xs + R,
                              dxdbl.data() + t0 * xs + R + Ns, G(dir ? "mixer.D_b" : "mixer.D"),
                              dxz.data() + t0 * 2 * Di + Di, dysum.data() + t0 * Di, a.u[dir].data() + t0 * Di,
                              a.delta[dir].data() + t0 * Di, a.A[dir].data(), a.xdbl[dir].data() + t0 * xs + R,
                              a.xdbl[dir].data() + t0 * xs + R + Ns, P(dir ? "mixer.D_b" : "mixer.D"),
                              a.xz.data() + t0 * 2 * Di + Di, N, Di, Ns, xs, 2 * Di, xs, 2 * Di, reverse);
    }
    // A = -exp(A_log): dA_log = dA * A.
    float* dAlog = G(dir ? "mixer.A_b_log" : "mixer.A_log");
    for (size_t k = 0; k < dA.size(); ++k) dAlog[k] += dA[k] * a.A[dir][k];
    softplus_backward(ddpre.data(), ddelta.data(), a.dpre[dir].data(), BN * Di);
    lin_backward(ddt.data(), ddpre.data(), a.dt[dir].data(), pre + "mixer.dt_proj" + s + ".weight",
                 pre + "mixer.dt_proj" + s + ".bias", int(BN), R, Di);
    for (int64_t r = 0; r < BN; ++r)
      for (int k = 0; k < R; ++k) dxdbl[size_t(r * xs + k)] += ddt[size_t(r * R + k)];
    lin_backward(du.data(), dxdbl.data(), a.u[dir].data(), pre + "mixer.x_proj" + s + ".weight", "", int(BN), Di, xs);
    silu_backward(dcpre.data(), du.data(), a.cpre[dir].data(), BN * Di);
    for (int b = 0; b < B; ++b)
      conv1d_causal_depthwise_backward(dxz.data() + size_t(b) * N * 2 * Di, G("mixer.conv1d" + s + ".weight"),
                                       G("mixer.conv1d" + s + ".bias"), dcpre.data() + size_t(b) * N * Di,
                                       a.xz.data() + size_t(b) * N * 2 * Di, P("mixer.conv1d" + s + ".weight"), N, Di,
                                       K, 2 * Di, reverse);
  }
  Vec dhn = zeros(size_t(BN) * C);
  lin_backward(dhn.data(), dxz.data(), a.hn.data(), pre + "mixer.in_proj.weight", "", int(BN), C, 2 * Di);
  rmsnorm_backward(dres, G("norm.weight"), dhn.data(), a.res.data(), P("norm.weight"), a.rstd.data(), BN, C);
  if (checkpointing_) {
    Vec keep = std::move(a.res);
    a = MambaActs();
    a.res = std::move(keep);
  }
}

void DimbaTrainer::forward(float* out, const float* x, const float* t, const float* y, const int* y_lens, int B, int H,
                           int W, int L, const uint8_t* drop) {
  const DimbaConfig& c = cfg_;
  const int p = c.patch_size, C = c.hidden_size, Ccap = c.caption_channels;
  auto bad = [](const std::string& m) {
    throw EngineError(ErrorCode::InvalidArgument, "Dimba training forward: " + m);
  };
  if (B < 1 || H < p || W < p || H % p || W % p || L < 1) bad("bad sizes");
  if (drop && L != c.model_max_length) bad("caption dropout needs L == model_max_length");
  ScopedFlushDenormals ftz;  // MODEL.md 3
  B_ = B, H_ = H, W_ = W, L_ = L;
  const int h = H / p, w = W / p, N = h * w;
  N_ = N;
  const int64_t BN = int64_t(B) * N;
  x_in_.assign(x, x + size_t(B) * c.in_channels * H * W);
  t_in_.assign(t, t + B);
  lens_.assign(size_t(B), L);
  if (y_lens)
    for (int b = 0; b < B; ++b) {
      if (y_lens[b] < 0 || y_lens[b] > L) bad("y_lens outside 0..L");
      lens_[size_t(b)] = y_lens[b];
    }
  drop_.assign(size_t(B), 0);
  if (drop) drop_.assign(drop, drop + B);
  // Caption dropout (MODEL.md 7): a dropped sample's caption is the learned null caption.
  y_eff_.assign(y, y + size_t(B) * L * Ccap);
  for (int b = 0; b < B; ++b)
    if (drop_[size_t(b)])
      std::memcpy(y_eff_.data() + size_t(b) * L * Ccap, params_.get("y_embedder.y_embedding"),
                  size_t(L) * Ccap * sizeof(float));

  // 1-2. patch embedding + position embedding
  Vec xs(size_t(BN) * C);
  patch_embed_forward(xs.data(), x, params_.get("x_embedder.proj.weight"), DType::F32,
                      params_.get("x_embedder.proj.bias"), B, c.in_channels, H, W, p, C);
  {
    Vec pe(size_t(N) * C);
    sincos_pos_embed_2d(pe.data(), C, h, w, double(c.input_size / p), c.pe_interpolation);
    for (int b = 0; b < B; ++b)
      add_forward(xs.data() + size_t(b) * N * C, xs.data() + size_t(b) * N * C, pe.data(), int64_t(N) * C);
  }
  // 3-4. timestep path
  tf_.resize(size_t(B) * 256);
  th_.resize(size_t(B) * C);
  ts_.resize(size_t(B) * C);
  temb_.resize(size_t(B) * C);
  tsi_.resize(size_t(B) * C);
  t0_.resize(size_t(B) * 6 * C);
  timestep_embedding_forward(tf_.data(), t, B, 256, 10000.0);
  linear_forward(th_.data(), tf_.data(), params_.get("t_embedder.mlp.0.weight"), DType::F32,
                 params_.get("t_embedder.mlp.0.bias"), B, 256, C);
  silu_forward(ts_.data(), th_.data(), int64_t(B) * C);
  linear_forward(temb_.data(), ts_.data(), params_.get("t_embedder.mlp.2.weight"), DType::F32,
                 params_.get("t_embedder.mlp.2.bias"), B, C, C);
  silu_forward(tsi_.data(), temb_.data(), int64_t(B) * C);
  linear_forward(t0_.data(), tsi_.data(), params_.get("t_block.1.weight"), DType::F32, params_.get("t_block.1.bias"), B,
                 C, 6 * C);
  // 5. caption projection on all L tokens
  y1_.resize(size_t(B) * L * C);
  yg_.resize(size_t(B) * L * C);
  yy_.resize(size_t(B) * L * C);
  linear_forward(y1_.data(), y_eff_.data(), params_.get("y_embedder.y_proj.fc1.weight"), DType::F32,
                 params_.get("y_embedder.y_proj.fc1.bias"), B * L, Ccap, C);
  gelu_tanh_forward(yg_.data(), y1_.data(), int64_t(B) * L * C);
  linear_forward(yy_.data(), yg_.data(), params_.get("y_embedder.y_proj.fc2.weight"), DType::F32,
                 params_.get("y_embedder.y_proj.fc2.bias"), B * L, C, C);
  // 7. blocks with the Mamba residual dataflow (MODEL.md 2.7)
  blocks_.assign(size_t(c.depth), BlockActs());
  mambas_.assign(size_t(c.mamba_depth()), MambaActs());
  const bool keep = !checkpointing_;
  const MambaActs* prev = nullptr;
  for (int i = 0; i < c.depth; ++i) {
    block_forward(i, xs.data(), blocks_[size_t(i)], keep);
    const int j = c.mamba_after_block(i);
    if (j < 0) continue;
    MambaActs& m = mambas_[size_t(j)];
    // Quirk: residual = x (first) or x + residual; the mixer output replaces x.
    m.res = xs;
    if (prev) add_forward(m.res.data(), m.res.data(), prev->res.data(), BN * C);
    mamba_forward(j, xs.data(), m, keep);
    prev = &m;
  }
  // 8. final layer modulated by temb (quirk), 9. unpatchify
  const int out_row = p * p * c.out_channels;
  xf_ = xs;
  fmean_.resize(size_t(BN));
  frstd_.resize(size_t(BN));
  fln_.resize(size_t(BN) * C);
  fh_.resize(size_t(BN) * C);
  fo_.resize(size_t(BN) * out_row);
  Vec mod(size_t(B) * 2 * C);
  const float* table = params_.get("final_layer.scale_shift_table");
  for (int b = 0; b < B; ++b) {
    add_forward(mod.data() + size_t(b) * 2 * C, table, temb_.data() + size_t(b) * C, C);
    add_forward(mod.data() + size_t(b) * 2 * C + C, table + C, temb_.data() + size_t(b) * C, C);
  }
  layernorm_forward(fln_.data(), fmean_.data(), frstd_.data(), xf_.data(), nullptr, nullptr, BN, C, 1e-6f);
  modulate_forward(fh_.data(), fln_.data(), mod.data(), mod.data() + C, B, N, C, 2 * C);
  linear_forward(fo_.data(), fh_.data(), params_.get("final_layer.linear.weight"), DType::F32,
                 params_.get("final_layer.linear.bias"), int(BN), C, out_row);
  unpatchify_forward(out, fo_.data(), B, c.out_channels, h, w, p);
}

void DimbaTrainer::backward(const float* dout) {
  const DimbaConfig& c = cfg_;
  const int B = B_, L = L_, N = N_, p = c.patch_size, C = c.hidden_size, Ccap = c.caption_channels;
  const int h = H_ / p, w = W_ / p, out_row = p * p * c.out_channels;
  const int64_t BN = int64_t(B) * N;
  DIMBA_CHECK(B > 0 && !fo_.empty());
  ScopedFlushDenormals ftz;
  auto P = [&](const char* n) { return params_.get(n); };
  auto G = [&](const char* n) { return grads_.get(n); };
  dyy_.assign(size_t(B) * L * C, 0.0f);
  dt0_.assign(size_t(B) * 6 * C, 0.0f);
  Vec dtemb = zeros(size_t(B) * C);

  // 9-8. unpatchify, final layer
  Vec dx = zeros(size_t(BN) * C);
  {
    Vec dfo = zeros(size_t(BN) * out_row), dh = zeros(size_t(BN) * C), dln = zeros(size_t(BN) * C);
    Vec dmod = zeros(size_t(B) * 2 * C), mod(size_t(B) * 2 * C);
    const float* table = P("final_layer.scale_shift_table");
    for (int b = 0; b < B; ++b)
      for (int k = 0; k < C; ++k) mod[size_t(b) * 2 * C + C + k] = table[C + k] + temb_[size_t(b) * C + k];
    unpatchify_backward(dfo.data(), dout, B, c.out_channels, h, w, p);
    lin_backward(dh.data(), dfo.data(), fh_.data(), "final_layer.linear.weight", "final_layer.linear.bias", int(BN), C,
                 out_row);
    modulate_backward(dln.data(), dmod.data(), dmod.data() + C, dh.data(), fln_.data(), mod.data() + C, B, N, C, 2 * C);
    layernorm_backward(dx.data(), nullptr, nullptr, dln.data(), xf_.data(), nullptr, fmean_.data(), frstd_.data(), BN,
                       C);
    float* dtable = G("final_layer.scale_shift_table");
    for (int b = 0; b < B; ++b)
      for (int k = 0; k < C; ++k) {
        const float dsh = dmod[size_t(b) * 2 * C + k], dsc = dmod[size_t(b) * 2 * C + C + k];
        dtable[k] += dsh;
        dtable[C + k] += dsc;
        dtemb[size_t(b) * C + k] += dsh + dsc;
      }
  }
  // 7. blocks in reverse. dres: the gradient of the Mamba residual stream, carried down
  // through every residual add (res_j = x + res_{j-1}).
  Vec dres = zeros(size_t(BN) * C);
  for (int i = c.depth - 1; i >= 0; --i) {
    const int j = c.mamba_after_block(i);
    if (j >= 0) {
      // dx is the gradient of mixer j's output; x_i reaches the loss only through res_j.
      mamba_backward(j, dx.data(), dres.data(), mambas_[size_t(j)]);
      dx = dres;
    }
    block_backward(i, dx.data(), blocks_[size_t(i)]);
  }
  // 1. patch embedding (the position embedding is a constant)
  if (!lora_)  // under LoRA the patch embedding is frozen and its input needs no gradient
    patch_embed_backward(nullptr, G("x_embedder.proj.weight"), G("x_embedder.proj.bias"), dx.data(), x_in_.data(),
                         P("x_embedder.proj.weight"), B, c.in_channels, H_, W_, p, C);
  // 5. caption projection (and the null caption of dropped samples)
  {
    Vec dyg = zeros(size_t(B) * L * C), dy1 = zeros(size_t(B) * L * C);
    lin_backward(dyg.data(), dyy_.data(), yg_.data(), "y_embedder.y_proj.fc2.weight", "y_embedder.y_proj.fc2.bias",
                 B * L, C, C);
    gelu_tanh_backward(dy1.data(), dyg.data(), y1_.data(), int64_t(B) * L * C);
    bool any_drop = false;
    for (uint8_t d : drop_) any_drop = any_drop || d;
    Vec dy = any_drop ? zeros(size_t(B) * L * Ccap) : Vec();
    lin_backward(any_drop ? dy.data() : nullptr, dy1.data(), y_eff_.data(), "y_embedder.y_proj.fc1.weight",
                 "y_embedder.y_proj.fc1.bias", B * L, Ccap, C);
    if (any_drop) {
      float* dnull = G("y_embedder.y_embedding");
      for (int b = 0; b < B; ++b)
        if (drop_[size_t(b)])
          for (size_t k = 0; k < size_t(L) * Ccap; ++k) dnull[k] += dy[size_t(b) * L * Ccap + k];
    }
  }
  // 3-4. timestep path: t0 = t_block(silu(temb)), temb = mlp2(silu(mlp0(tf)))
  {
    Vec dtsi = zeros(size_t(B) * C), dts = zeros(size_t(B) * C), dth = zeros(size_t(B) * C);
    lin_backward(dtsi.data(), dt0_.data(), tsi_.data(), "t_block.1.weight", "t_block.1.bias", B, C, 6 * C);
    silu_backward(dtemb.data(), dtsi.data(), temb_.data(), int64_t(B) * C);
    lin_backward(dts.data(), dtemb.data(), ts_.data(), "t_embedder.mlp.2.weight", "t_embedder.mlp.2.bias", B, C, C);
    silu_backward(dth.data(), dts.data(), th_.data(), int64_t(B) * C);
    lin_backward(nullptr, dth.data(), tf_.data(), "t_embedder.mlp.0.weight", "t_embedder.mlp.0.bias", B, 256, C);
  }
}

}  // namespace dimba
