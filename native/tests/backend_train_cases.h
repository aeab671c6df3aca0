// DimbaTrainer on a device backend against the same trainer on the CPU (dimba-tiny's golden
// weights), over what the golden step does not reach: caption dropout, gradient checkpointing,
// LoRA (adapter gradients; the frozen base), gradients accumulated over two backwards onto the
// host gradients, three CAME steps, so the parameters are uploaded again after each host
// update, and a TrainSession given the device backend. Shared by test_vulkan_train and
// test_cuda_train: each opens its backend and calls backend_train::run.
// defines: backend_train::run
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/rng.h"
#include "harness.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "training/dimba_train.h"
#include "training/lora.h"
#include "training/optim.h"
#include "training/train_loop.h"

namespace backend_train {
using namespace dimba;

inline const Backend* device = nullptr;      // the device backend under test
inline bool bitwise_repeatable = false;  // the same backward twice gives the same bits (no atomics)

struct Fixture {
  DimbaConfig cfg;
  ParamSet params;
  int B = 3, H = 8, W = 6, L = 0;  // odd batch, a non-square latent
  std::vector<float> x, t, y, dout;
  std::vector<int> lens;

  Fixture() {
    std::string p = harness::golden_path("dimba-tiny.json");
    cfg = DimbaConfig::from_json(parse_json_untrusted(read_text_file(p), p));
    params = ParamSet::from_checkpoint(load_safetensors(harness::golden_path("dimba-tiny.weights.safetensors")), cfg);
    L = cfg.model_max_length;  // caption dropout needs the full length
    lens = {L, 3, 0};          // a full caption, a short one, none
    x.resize(size_t(B) * cfg.in_channels * H * W);
    y.resize(size_t(B) * L * cfg.caption_channels);
    dout.resize(out_size());
    fill_normal(x.data(), x.size(), 31);
    fill_normal(y.data(), y.size(), 32);
    fill_normal(dout.data(), dout.size(), 33);
    t = {999.0f, 400.0f, 0.0f};
  }
  size_t out_size() const { return size_t(B) * cfg.out_channels * H * W; }
};

// One forward and backward on each trainer; outputs and gradients compared.
inline void step_both(Fixture& f, DimbaTrainer& cpu, DimbaTrainer& dev, const uint8_t* drop) {
  std::vector<float> oc(f.out_size()), ov(f.out_size());
  cpu.forward(oc.data(), f.x.data(), f.t.data(), f.y.data(), f.lens.data(), f.B, f.H, f.W, f.L, drop);
  dev.forward(ov.data(), f.x.data(), f.t.data(), f.y.data(), f.lens.data(), f.B, f.H, f.W, f.L, drop);
  CHECK_REL(ov.data(), oc.data(), oc.size(), 1e-5);
  cpu.backward(f.dout.data());
  dev.backward(f.dout.data());
}

inline void dropout_and_checkpointing() {
  Fixture f;
  const uint8_t drop[3] = {0, 1, 0};
  for (bool ckpt : {false, true}) {
    std::printf("    caption dropout on sample 1, checkpointing %s\n", ckpt ? "on" : "off");
    DimbaTrainer cpu(f.cfg, f.params), dev(f.cfg, f.params, nullptr, 1.0, *device);
    cpu.set_checkpointing(ckpt);
    dev.set_checkpointing(ckpt);
    step_both(f, cpu, dev, drop);
    CHECK_REL(dev.grads().data.data(), cpu.grads().data.data(), cpu.grads().data.size(), 1e-5);
    CHECK_REL(dev.grads().get("y_embedder.y_embedding"), cpu.grads().get("y_embedder.y_embedding"),
              size_t(f.L) * f.cfg.caption_channels, 1e-5);
    CHECK(dev.saved_activation_bytes() == cpu.saved_activation_bytes());
  }
}

// Two backwards without zeroing: the device gradients start from the host's each time.
inline void gradients_accumulate_onto_the_host() {
  Fixture f;
  DimbaTrainer cpu(f.cfg, f.params), dev(f.cfg, f.params, nullptr, 1.0, *device);
  step_both(f, cpu, dev, nullptr);
  const std::vector<float> once = dev.grads().data;
  step_both(f, cpu, dev, nullptr);
  CHECK_REL(dev.grads().data.data(), cpu.grads().data.data(), cpu.grads().data.size(), 1e-5);
  std::vector<float> twice(once.size());
  for (size_t i = 0; i < once.size(); ++i) twice[i] = 2.0f * once[i];
  CHECK_REL(dev.grads().data.data(), twice.data(), twice.size(), 1e-6);
  dev.grads().zero();  // a caller's zero reaches the device at the next backward
  step_both(f, cpu, dev, nullptr);
  CHECK_REL(dev.grads().data.data(), once.data(), once.size(), 1e-6);
  // Without atomics the same step gives the same gradients, bit for bit.
  if (bitwise_repeatable) CHECK(dev.grads().data == once);
}

inline void lora_adapters() {
  Fixture f;
  LoraConfig lc;
  lc.rank = 3;
  lc.alpha = 6.0;
  Lora lc_cpu = Lora::create(f.params, lc, 7);
  for (size_t i = 0; i < lc_cpu.tensors.count(); ++i)  // B random too, so the adapters act
    if (lc_cpu.tensors.names[i].find(".lora_B") != std::string::npos) {
      fill_normal(lc_cpu.tensors.at(i), lc_cpu.tensors.numel(i), 40 + i);
      for (size_t k = 0; k < lc_cpu.tensors.numel(i); ++k) lc_cpu.tensors.at(i)[k] *= 0.05f;
    }
  Lora lc_dev = lc_cpu;
  DimbaTrainer cpu(f.cfg, f.params, &lc_cpu, 0.7), dev(f.cfg, f.params, &lc_dev, 0.7, *device);
  cpu.set_checkpointing(true);
  dev.set_checkpointing(true);
  std::printf("    LoRA rank 3 on %zu Linears, strength 0.7, checkpointing\n", lc_cpu.bases.size());
  step_both(f, cpu, dev, nullptr);
  CHECK_REL(lc_dev.grads.data.data(), lc_cpu.grads.data.data(), lc_cpu.grads.data.size(), 1e-5);
  CHECK_REL(dev.grads().data.data(), cpu.grads().data.data(), cpu.grads().data.size(), 1e-5);
}

// Three CAME steps on the host parameters both trainers read (updated with the CPU's
// gradients: CAME turns rounding-level gradients, such as the attention key biases' exact
// zeros, into lr-sized steps, so two optimisers fed by two backends would drift apart for that
// reason alone). Each device forward must see the parameters the last step wrote.
inline void three_came_steps() {
  Fixture f;
  ParamSet p = f.params;
  DimbaTrainer cpu(f.cfg, p), dev(f.cfg, p, nullptr, 1.0, *device);
  CameOptions o;
  o.lr = 1e-3;  // the golden step's
  Came came(p, o);
  std::vector<float> first(f.out_size()), last(f.out_size());
  for (int s = 0; s < 3; ++s) {
    cpu.grads().zero();
    dev.grads().zero();
    step_both(f, cpu, dev, nullptr);
    CHECK_REL(dev.grads().data.data(), cpu.grads().data.data(), cpu.grads().data.size(), 1e-5);
    came.step(p, cpu.grads());
  }
  cpu.forward(first.data(), f.x.data(), f.t.data(), f.y.data(), f.lens.data(), f.B, f.H, f.W, f.L);
  DimbaTrainer before(f.cfg, f.params);
  before.forward(last.data(), f.x.data(), f.t.data(), f.y.data(), f.lens.data(), f.B, f.H, f.W, f.L);
  const double moved = harness::rel_l2(first.data(), last.data(), last.size());
  std::printf("    the three steps moved the output by %.3e (relative)\n", moved);
  CHECK(moved > 1e-3);  // the steps changed what the forwards compared above computed
}

// TrainSession with `backend`: LoRA steps with caption dropout and checkpointing, the same
// draws on both backends; the losses of every step and the adapters at the end agree.
inline void train_session_on_device() {
  Fixture f;
  std::vector<TrainItem> items(size_t(f.B));
  const size_t nx = size_t(f.cfg.in_channels) * f.H * f.W, ny = size_t(f.L) * f.cfg.caption_channels;
  for (int b = 0; b < f.B; ++b) {
    TrainItem& it = items[size_t(b)];
    it.height = f.H, it.width = f.W, it.text_len = f.lens[size_t(b)];
    it.latent.assign(f.x.begin() + long(b * nx), f.x.begin() + long((b + 1) * nx));
    it.text.assign(f.y.begin() + long(b * ny), f.y.begin() + long((b + 1) * ny));
  }
  TrainOptions o;
  o.steps = 3;
  o.batch_size = 2;
  o.lr = 1e-3;
  o.seed = 5;
  o.caption_dropout = 0.5;
  o.checkpointing = true;
  o.use_lora = true;
  o.lora.rank = 4;
  std::vector<double> lc, lv;
  TrainSession sc(f.cfg, f.params, o);
  sc.run(items, [&](const TrainProgress& p) { lc.push_back(p.loss); });
  o.backend = device;
  TrainSession sv(f.cfg, f.params, o);
  sv.run(items, [&](const TrainProgress& p) { lv.push_back(p.loss); });
  CHECK(lc.size() == 3 && lv.size() == 3);
  std::vector<float> fc(lc.begin(), lc.end()), fv(lv.begin(), lv.end());
  std::printf("    losses cpu %.6f %.6f %.6f, %s %.6f %.6f %.6f\n", lc[0], lc[1], lc[2], device->name, lv[0], lv[1], lv[2]);
  CHECK_REL(fv.data(), fc.data(), fc.size(), 1e-5);
  CHECK_REL(sv.lora()->tensors.data.data(), sc.lora()->tensors.data.data(), sc.lora()->tensors.data.size(), 1e-5);
}

// Opens the backend (or exits 77/1, harness::backend_or_skip) and runs every case against the
// CPU; returns the exit status.
inline int run(const char* test, const char* require, const Backend& (*get)(), bool repeatable) {
  int skip = 0;
  device = harness::backend_or_skip(test, require, get, &skip);
  if (!device) return skip;
  bitwise_repeatable = repeatable;
  RUN(dropout_and_checkpointing);
  RUN(gradients_accumulate_onto_the_host);
  RUN(lora_adapters);
  RUN(three_came_steps);
  RUN(train_session_on_device);
  return harness::summary();
}

}  // namespace backend_train
