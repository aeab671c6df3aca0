// The training loop (training/train_loop.h) on the tiny golden model: a run stopped (cancel)
// and resumed from its saved state ends with bit-identical weights to an uninterrupted run
// (full fine-tuning with CAME, and LoRA with AdamW); progress events carry the warmup
// schedule; saves and previews happen every N steps; bad datasets are refused.
// defines: main (test_train_loop)
#include <atomic>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/rng.h"
#include "harness.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "training/train_loop.h"

using namespace dimba;

namespace {

DimbaConfig tiny() {
  std::string p = harness::golden_path("dimba-tiny.json");
  return DimbaConfig::from_json(parse_json_untrusted(read_text_file(p), p));
}

ParamSet tiny_params(const DimbaConfig& cfg) {
  return ParamSet::from_checkpoint(load_safetensors(harness::golden_path("dimba-tiny.weights.safetensors")), cfg);
}

std::vector<TrainItem> dataset(const DimbaConfig& cfg, int n) {
  std::vector<TrainItem> d(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    TrainItem& it = d[size_t(i)];
    it.height = 8, it.width = 8;
    it.latent.resize(size_t(cfg.in_channels) * 64);
    it.text.resize(size_t(cfg.model_max_length) * cfg.caption_channels);
    fill_normal(it.latent.data(), it.latent.size(), 100 + uint64_t(i));
    fill_normal(it.text.data(), it.text.size(), 200 + uint64_t(i));
    it.text_len = 3 + i;
  }
  return d;
}

TrainOptions options(bool lora) {
  TrainOptions o;
  o.steps = 4;
  o.batch_size = 2;
  o.lr = 1e-3;
  o.warmup_steps = 3;
  o.caption_dropout = 0.5;
  o.seed = 7;
  o.use_lora = lora;
  o.lora.rank = 2;
  if (lora) {
    o.optimizer = TrainOptions::Optimizer::AdamW;
    o.adamw.lr = 1e-3;
  }
  return o;
}

void resume_case(bool lora) {
  const DimbaConfig cfg = tiny();
  const std::vector<TrainItem> data = dataset(cfg, 3);
  const TrainOptions opt = options(lora);
  TrainSession whole(cfg, tiny_params(cfg), opt);
  CHECK(whole.run(data) == 4);

  // Stopped after 2 steps by cancel, saved, resumed in a fresh session.
  const std::string path = lora ? "test_train_loop_lora.state" : "test_train_loop_full.state";
  std::atomic<bool> cancel{false};
  {
    TrainSession first(cfg, tiny_params(cfg), opt);
    const int64_t ran = first.run(data, [&](const TrainProgress& p) { if (p.step == 2) cancel = true; }, &cancel);
    CHECK(ran == 2 && first.step() == 2);
    first.save_state(path);
  }
  TrainSession second(cfg, tiny_params(cfg), opt);
  second.load_state(path);
  CHECK(second.step() == 2);
  CHECK(second.run(data) == 2);
  std::remove(path.c_str());
  if (lora) {
    CHECK(whole.lora()->tensors.data == second.lora()->tensors.data);
    CHECK(whole.params().data == tiny_params(cfg).data);  // the base never moves
  } else {
    CHECK(whole.params().data == second.params().data);
    CHECK(whole.params().data != tiny_params(cfg).data);
  }
}

void resume_is_identical_full() { resume_case(false); }
void resume_is_identical_lora() { resume_case(true); }

void progress_saves_and_previews() {
  const DimbaConfig cfg = tiny();
  const std::vector<TrainItem> data = dataset(cfg, 2);
  TrainOptions opt = options(false);
  opt.save_every = 2;
  opt.state_path = "test_train_loop_every.state";
  opt.preview_every = 2;
  opt.checkpointing = true;
  std::vector<TrainProgress> ev;
  int previews = 0;
  TrainSession s(cfg, tiny_params(cfg), opt);
  s.run(data, [&](const TrainProgress& p) { ev.push_back(p); }, nullptr, [&](const TrainSession& ss) {
    ++previews;
    CHECK(ss.step() % 2 == 0);
  });
  CHECK(ev.size() == 4);
  CHECK(previews == 2);
  for (size_t i = 0; i < ev.size(); ++i) {
    std::printf("    step %lld loss %.4f lr %.2e grad_norm %.3f %.3f s/step\n", (long long)ev[i].step, ev[i].loss,
                ev[i].lr, ev[i].grad_norm, ev[i].seconds_per_step);
    CHECK(ev[i].step == int64_t(i) + 1);
    CHECK(std::isfinite(ev[i].loss) && ev[i].loss > 0.0);
    CHECK(std::fabs(ev[i].lr - 1e-3 * std::min(1.0, double(i + 1) / 3.0)) < 1e-12);  // warmup over 3 steps
    CHECK(ev[i].grad_norm > 0.0 && ev[i].seconds_per_step > 0.0);
  }
  // The state saved at step 4 resumes to step 4.
  TrainSession back(cfg, tiny_params(cfg), opt);
  back.load_state(opt.state_path);
  CHECK(back.step() == 4);
  CHECK(back.params().data == s.params().data);
  std::remove(opt.state_path.c_str());
}

void refuses_bad_input() {
  const DimbaConfig cfg = tiny();
  TrainOptions opt = options(false);
  TrainSession s(cfg, tiny_params(cfg), opt);
  CHECK_THROWS_CODE(s.run({}), ErrorCode::InvalidArgument);
  std::vector<TrainItem> data = dataset(cfg, 2);
  data[1].height = 4;  // sizes differ
  CHECK_THROWS_CODE(s.run(data), ErrorCode::InvalidArgument);
  data = dataset(cfg, 1);
  data[0].text_len = 99;
  CHECK_THROWS_CODE(s.run(data), ErrorCode::InvalidArgument);
  opt.batch_size = 0;
  CHECK_THROWS_CODE(TrainSession(cfg, tiny_params(cfg), opt), ErrorCode::InvalidArgument);
  // A LoRA state does not load into a full fine-tuning session.
  TrainSession l(cfg, tiny_params(cfg), options(true));
  l.save_state("test_train_loop_bad.state");
  CHECK_THROWS_CODE(s.load_state("test_train_loop_bad.state"), ErrorCode::BadFile);
  std::remove("test_train_loop_bad.state");
}

}  // namespace

int main() {
  RUN(resume_is_identical_full);
  RUN(resume_is_identical_lora);
  RUN(progress_saves_and_previews);
  RUN(refuses_bad_input);
  return harness::summary();
}
