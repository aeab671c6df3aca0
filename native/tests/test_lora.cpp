// LoRA (training/lora.h): unmerged (the adapter path beside each frozen Linear) and merged
// (W + strength * alpha/r * B A, run by the inference model) agree within 1e-5; the adapter
// gradients are exactly the chain rule of the full weight gradient; the base stays frozen
// while a step trains the adapters; files round-trip with names and metadata that say what
// they adapt; bad files and targets are refused.
// defines: main (test_lora)
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "backend/cpu/gemm.h"
#include "core/rng.h"
#include "harness.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/dimba.h"
#include "training/dimba_train.h"
#include "training/lora.h"
#include "training/optim.h"

using namespace dimba;

namespace {

struct Fixture {
  DimbaConfig cfg;
  ParamSet params;
  int B = 2, H = 8, W = 8, L = 8;
  std::vector<float> x, t, y;
  std::vector<int> lens{5, 8};

  Fixture() {
    std::string p = harness::golden_path("dimba-tiny.json");
    cfg = DimbaConfig::from_json(parse_json_untrusted(read_text_file(p), p));
    params = ParamSet::from_checkpoint(load_safetensors(harness::golden_path("dimba-tiny.weights.safetensors")), cfg);
    x.resize(size_t(B) * cfg.in_channels * H * W);
    y.resize(size_t(B) * L * cfg.caption_channels);
    fill_normal(x.data(), x.size(), 11);
    fill_normal(y.data(), y.size(), 12);
    t = {981.0f, 13.0f};
  }
  size_t out_size() const { return size_t(B) * cfg.out_channels * H * W; }
};

// A LoRA with B random too, so that the adapters change the output.
Lora random_lora(const ParamSet& params, uint64_t seed) {
  LoraConfig lc;
  lc.rank = 3;
  lc.alpha = 6.0;
  Lora l = Lora::create(params, lc, seed);
  for (size_t i = 0; i < l.tensors.count(); ++i)
    if (l.tensors.names[i].size() > 7 && l.tensors.names[i].substr(l.tensors.names[i].size() - 7) == ".lora_B") {
      fill_normal(l.tensors.at(i), l.tensors.numel(i), seed + 1 + i);
      for (size_t k = 0; k < l.tensors.numel(i); ++k) l.tensors.at(i)[k] *= 0.05f;
    }
  return l;
}

// A Checkpoint viewing a ParamSet's tensors (for the inference model's loader).
Checkpoint as_checkpoint(const ParamSet& p) {
  Checkpoint ck;
  for (size_t i = 0; i < p.count(); ++i)
    ck.tensors[p.names[i]] = {DType::F32, p.shapes[i], reinterpret_cast<const uint8_t*>(p.at(i)), p.numel(i) * 4};
  return ck;
}

void merged_equals_unmerged() {
  Fixture f;
  Lora lora = random_lora(f.params, 5);
  const double strength = 0.7;
  std::vector<float> unmerged(f.out_size()), merged(f.out_size()), base(f.out_size());
  DimbaTrainer tr(f.cfg, f.params);
  tr.forward(base.data(), f.x.data(), f.t.data(), f.y.data(), f.lens.data(), f.B, f.H, f.W, f.L);
  tr.attach_lora(&lora, strength);
  tr.forward(unmerged.data(), f.x.data(), f.t.data(), f.y.data(), f.lens.data(), f.B, f.H, f.W, f.L);
  ParamSet mp = f.params;
  lora.merge_into(mp, strength);
  DimbaModel model = DimbaModel::load(as_checkpoint(mp), f.cfg, DType::F32);
  model.forward(merged.data(), f.x.data(), f.t.data(), f.y.data(), f.lens.data(), f.B, f.H, f.W, f.L);
  const double change = harness::rel_l2(unmerged.data(), base.data(), base.size());
  std::printf("    the adapters change the output by %.3e (relative)\n", change);
  CHECK(change > 1e-3);
  CHECK_REL(merged.data(), unmerged.data(), merged.size(), 1e-5);
}

// dA = s B^T dW and dB = s dW A^T, with dW the gradient of the merged weight.
void adapter_gradients_are_the_chain_rule() {
  Fixture f;
  Lora lora = random_lora(f.params, 9);
  const double strength = 0.5, s = strength * lora.scale();
  std::vector<float> out(f.out_size()), dout(f.out_size());
  fill_normal(dout.data(), dout.size(), 21);
  ParamSet mp = f.params;
  lora.merge_into(mp, strength);
  DimbaTrainer full(f.cfg, mp);
  full.forward(out.data(), f.x.data(), f.t.data(), f.y.data(), f.lens.data(), f.B, f.H, f.W, f.L);
  full.backward(dout.data());
  DimbaTrainer tr(f.cfg, f.params);
  tr.attach_lora(&lora, strength);
  tr.forward(out.data(), f.x.data(), f.t.data(), f.y.data(), f.lens.data(), f.B, f.H, f.W, f.L);
  tr.backward(dout.data());
  double worst = 0.0;
  for (const std::string& base : lora.bases) {
    const auto& sh = f.params.shapes[f.params.index.at(base)];
    const int out_f = int(sh[0]), in_f = int(sh[1]), r = lora.cfg.rank;
    const float* dW = full.grads().get(base);
    std::vector<float> dA(size_t(r) * in_f, 0.0f), dB(size_t(out_f) * r, 0.0f);
    cpu::sgemm(true, false, r, in_f, out_f, float(s), lora.B(base), r, dW, in_f, 0.0f, dA.data(), in_f);
    cpu::sgemm(false, true, out_f, r, in_f, float(s), dW, in_f, lora.A(base), in_f, 0.0f, dB.data(), r);
    worst = std::max(worst, harness::rel_l2(lora.grads.get(base + ".lora_A"), dA.data(), dA.size()));
    worst = std::max(worst, harness::rel_l2(lora.grads.get(base + ".lora_B"), dB.data(), dB.size()));
    // The frozen base gets no gradient (and no gradient memory).
    CHECK(!tr.grads().has(base));
  }
  std::printf("    %zu adapters, worst relative error of dA/dB vs the chain rule %.3e (tol 1e-05)\n", lora.bases.size(),
              worst);
  CHECK(worst <= 1e-5);
}

// A CAME step on the adapters moves the output; the base weights are untouched.
void training_step_keeps_base_frozen() {
  Fixture f;
  LoraConfig lc;
  lc.rank = 4;
  lc.targets = {"attn.qkv", "mixer.in_proj"};
  Lora lora = Lora::create(f.params, lc, 3);
  CHECK(lora.bases.size() == size_t(2 * f.cfg.depth));
  const std::vector<float> before = f.params.data;
  DimbaTrainer tr(f.cfg, f.params);
  tr.attach_lora(&lora);
  std::vector<float> out0(f.out_size()), out1(f.out_size()), dout(f.out_size());
  tr.forward(out0.data(), f.x.data(), f.t.data(), f.y.data(), f.lens.data(), f.B, f.H, f.W, f.L);
  fill_normal(dout.data(), dout.size(), 4);
  tr.backward(dout.data());
  CameOptions co;
  co.lr = 1e-3;
  Came came(lora.tensors, co);
  came.step(lora.tensors, lora.grads);
  tr.forward(out1.data(), f.x.data(), f.t.data(), f.y.data(), f.lens.data(), f.B, f.H, f.W, f.L);
  CHECK(f.params.data == before);
  CHECK(harness::rel_l2(out1.data(), out0.data(), out0.size()) > 1e-6);
}

void save_load_round_trip() {
  Fixture f;
  Lora lora = random_lora(f.params, 13);
  const std::string path = "test_lora_roundtrip.safetensors";
  lora.save(path);
  Checkpoint ck = load_safetensors(path);
  CHECK(ck.metadata["format"] == "dimba-lora");
  CHECK(ck.metadata["rank"] == "3");
  CHECK(ck.metadata["targets"].find("mixer.out_proj") != std::string::npos);
  CHECK(ck.find("blocks.0.attn.qkv.weight.lora_A") != nullptr);
  CHECK(ck.find("mamba_blocks.1.mixer.out_proj.weight.lora_B") != nullptr);
  Lora back = Lora::load(path);
  CHECK(back.cfg.rank == 3 && back.cfg.alpha == 6.0 && back.cfg.targets == lora.cfg.targets);
  CHECK(back.bases.size() == lora.bases.size());
  for (const std::string& b : lora.bases) {
    CHECK(back.A(b) && back.B(b));
    if (!back.A(b)) continue;
    const size_t na = lora.tensors.numel(lora.tensors.index.at(b + ".lora_A"));
    const size_t nb = lora.tensors.numel(lora.tensors.index.at(b + ".lora_B"));
    CHECK(std::equal(back.A(b), back.A(b) + na, lora.A(b)));
    CHECK(std::equal(back.B(b), back.B(b) + nb, lora.B(b)));
  }
  std::remove(path.c_str());
}

void refuses_bad_input() {
  Fixture f;
  LoraConfig lc;
  lc.targets = {"attn.nope"};
  CHECK_THROWS_CODE(Lora::create(f.params, lc, 1), ErrorCode::InvalidArgument);
  lc = LoraConfig();
  lc.rank = 0;
  CHECK_THROWS_CODE(Lora::create(f.params, lc, 1), ErrorCode::InvalidArgument);
  // A weights file is not a LoRA.
  CHECK_THROWS_CODE(Lora::load(harness::golden_path("dimba-tiny.weights.safetensors")), ErrorCode::BadFile);
  // A LoRA for another width does not merge.
  Lora lora = random_lora(f.params, 2);
  DimbaConfig wide = f.cfg;
  wide.hidden_size = 32;
  wide.num_heads = 2;
  ParamSet other = ParamSet::zeros_like_config(wide);
  CHECK_THROWS_CODE(lora.merge_into(other, 1.0), ErrorCode::ModelMismatch);
}

}  // namespace

int main() {
  RUN(merged_equals_unmerged);
  RUN(adapter_gradients_are_the_chain_rule);
  RUN(training_step_keeps_base_frozen);
  RUN(save_load_round_trip);
  RUN(refuses_bad_input);
  return harness::summary();
}
