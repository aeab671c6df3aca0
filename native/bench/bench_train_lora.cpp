// Dimba-L/2-shaped LoRA training on the CPU (issue 7's memory acceptance): random f32 weights,
// one latent at 512px (64x64, N = 1024 tokens), batch 1, L = 300 text tokens of 4096 channels,
// LoRA rank 16 on the default targets, CAME. Runs a few training steps through TrainSession
// and prints seconds per step, the saved activations, the weights, and the process's peak
// RSS (getrusage), with or without per-block gradient checkpointing. Run each mode in its own
// process so that the peaks do not mix.
// Usage: bench_train_lora [--checkpointing] [--steps N] [--res 512] [--depth D] [--rank R]
// defines: main (bench_train_lora)
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/rng.h"
#include "training/train_loop.h"

using namespace dimba;

static double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static double peak_rss_gib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / (1024.0 * 1024.0);  // ru_maxrss is KiB on Linux
}

int main(int argc, char** argv) {
  bool ckpt = false;
  int steps = 2, res = 512, depth = 0, rank = 16;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--checkpointing") ckpt = true;
    else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
    else if (a == "--res" && i + 1 < argc) res = std::atoi(argv[++i]);
    else if (a == "--depth" && i + 1 < argc) depth = std::atoi(argv[++i]);
    else if (a == "--rank" && i + 1 < argc) rank = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr,
                   "usage: bench_train_lora [--checkpointing] [--steps N] [--res 512] [--depth D] [--rank R]\n");
      return 2;
    }
  }
  DimbaConfig cfg = DimbaConfig::dimba_l_2(res == 1024 || res == 2048 ? res : 512);
  if (depth > 0) cfg.depth = depth;
  ParamSet params = ParamSet::zeros_like_config(cfg);
  // Random weights, uniform in +-0.03 from a cheap LCG (the values do not matter for time or
  // memory; 860M Box-Muller normals would take longer than the step).
  uint32_t st = 12345;
  for (float& v : params.data) {
    st = st * 1664525u + 1013904223u;
    v = (float(st >> 8) / float(1 << 24) - 0.5f) * 0.06f;
  }
  std::printf("Dimba-L/2 depth %d, %zu parameters (%.2f GiB f32), %dpx, batch 1, LoRA rank %d, %s\n", cfg.depth,
              params.data.size(), double(params.data.size()) * 4 / (1u << 30), res, rank,
              ckpt ? "gradient checkpointing" : "no checkpointing");
  const int S = res / 8;
  TrainItem item;
  item.height = S, item.width = S;
  item.latent.resize(size_t(cfg.in_channels) * S * S);
  item.text.resize(size_t(cfg.model_max_length) * cfg.caption_channels);
  fill_normal(item.latent.data(), item.latent.size(), 2);
  fill_normal(item.text.data(), item.text.size(), 3);
  item.text_len = 120;
  TrainOptions opt;
  opt.steps = steps;
  opt.batch_size = 1;
  opt.use_lora = true;
  opt.lora.rank = rank;
  opt.checkpointing = ckpt;
  opt.caption_dropout = 0.1;
  TrainSession s(cfg, std::move(params), opt);
  std::printf("before training: peak RSS %.2f GiB\n", peak_rss_gib());
  std::fflush(stdout);
  double cpu0 = cpu_seconds();
  s.run({item}, [&](const TrainProgress& p) {
    const double cpu = cpu_seconds();
    std::printf("step %lld: %.1f s wall, %.1f s CPU (all threads), loss %.4f, grad norm %.4f, saved activations "
                "%.2f GiB, peak RSS %.2f GiB\n",
                (long long)p.step, p.seconds_per_step, cpu - cpu0, p.loss, p.grad_norm,
                double(s.saved_activation_bytes()) / (1u << 30), peak_rss_gib());
    cpu0 = cpu;
    std::fflush(stdout);
  });
  std::printf("peak RSS %.2f GiB\n", peak_rss_gib());
  return 0;
}
