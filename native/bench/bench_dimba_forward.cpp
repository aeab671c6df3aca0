// Dimba-L/2 forward on the CPU with random weights at 512px: latent 64x64 (N = 1024 tokens),
// batch 2 (the doubled batch of classifier-free guidance), L = 300 text tokens. Prints
// seconds per forward (median), GFLOP/s over the whole forward (FLOPs counted analytically:
// every Linear, both attention products, the scan and the conv), the fraction of the best
// GEMM rate measured IN THIS RUN through linear_forward on Dimba-L shapes (interleaved with
// the forwards, median per shape), a per-stage time split, and memory: peak RSS (getrusage), weights, activation arena peak.
// Usage: bench_dimba_forward [--weights bf16|f32|f16] [--reps N] [--res 512] [--batch 2]
//                            [--text-len 300] [--depth D] [--threads T] [--ops]
// --ops: one more forward, op by op (bench/op_profile.h), printed as a table.
// --threads sets both the op pool (DIMBA_THREADS) and the GEMM's threads; default: the pool
// takes every hardware thread and the GEMM its own default.
// Results and the command: native/bench/README.md ("Dimba-L forward").
// defines: main (bench_dimba_forward)
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "backend/cpu/gemm.h"
#include "backend/cpu/gemm_kernels.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "io/checkpoint.h"
#include "models/dimba.h"
#include "dimba_bench_model.h"
#include "op_profile.h"

using namespace dimba;
using bench::Flops;
using bench::Rand;
using bench::count_flops;
using bench::random_checkpoint;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double peak_rss_mib() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // Linux: KiB
}

// linear_forward on Dimba-L's big shapes (M = B*N rows), weights in `dtype`. One call per
// shape per round; rounds are interleaved with the forwards, so both see the same machine
// load (these build machines are shared), and each shape's rate is the median over rounds.
double cpu_seconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

struct GemmProbe {
  struct Shape {
    const char* name;
    int K, N;
    std::vector<double> gflops;      // per wall second
    std::vector<double> cpu_gflops;  // per process CPU second
  };
  std::vector<Shape> shapes;
  int M;
  DType dtype;
  Rand r{42};

  GemmProbe(const DimbaConfig& c, int M_, DType dtype_) : M(M_), dtype(dtype_) {
    const int C = c.hidden_size, Hm = c.mlp_hidden(), Di = c.d_inner();
    shapes = {{"qkv", C, 3 * C, {}, {}}, {"mlp.fc1", C, Hm, {}, {}}, {"mlp.fc2", Hm, C, {}, {}},
              {"in_proj", C, 2 * Di, {}, {}}};
  }
  // Buffers live only during their own timing, so the probe does not inflate the peak RSS
  // reported for the forward.
  void round() {
    for (Shape& s : shapes) {
      std::vector<float> x(size_t(M) * s.K), y(size_t(M) * s.N), b(size_t(s.N), 0.01f), wf(size_t(s.N) * s.K);
      for (auto& v : x) v = r.uniform();
      for (auto& v : wf) v = r.uniform() * 0.03f;
      std::vector<uint8_t> w(wf.size() * dtype_size(dtype));
      convert_from_f32(w.data(), dtype, wf.data(), wf.size());
      wf = std::vector<float>();
      const double c0 = cpu_seconds(), t0 = now_s();
      cpu::linear_forward(y.data(), x.data(), w.data(), dtype, b.data(), M, s.K, s.N, false);
      const double flop = 2.0 * M * s.K * s.N;
      s.gflops.push_back(flop / (now_s() - t0) / 1e9);
      s.cpu_gflops.push_back(flop / std::max(1e-6, cpu_seconds() - c0) / 1e9);
    }
  }
  double best_median(bool print, bool cpu = false) {
    double best = 0;
    for (Shape& s : shapes) {
      std::vector<double> g = cpu ? s.cpu_gflops : s.gflops;
      std::sort(g.begin(), g.end());
      double med = g[g.size() / 2];
      if (print && !cpu)
        std::printf("  gemm %-8s M=%d K=%d N=%d %-4s: median %6.1f GFLOP/s (max %6.1f, %zu rounds)\n", s.name, M, s.K,
                    s.N, dtype_name(dtype), med, g.back(), g.size());
      best = std::max(best, med);
    }
    return best;
  }
};


}  // namespace

int main(int argc, char** argv) {
  DType dtype = DType::BF16;
  int reps = 3, res = 512, B = 2, L = 300, depth = 0, threads = 0;
  bool ops = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) { std::fprintf(stderr, "%s needs a value\n", a.c_str()); std::exit(2); }
      return argv[++i];
    };
    if (a == "--weights") {
      std::string v = next();
      dtype = v == "f32" ? DType::F32 : v == "f16" ? DType::F16 : v == "bf16" ? DType::BF16 : DType::U8;
      if (dtype == DType::U8) { std::fprintf(stderr, "unknown --weights %s\n", v.c_str()); return 2; }
    } else if (a == "--reps") reps = std::atoi(next().c_str());
    else if (a == "--res") res = std::atoi(next().c_str());
    else if (a == "--batch") B = std::atoi(next().c_str());
    else if (a == "--text-len") L = std::atoi(next().c_str());
    else if (a == "--depth") depth = std::atoi(next().c_str());
    else if (a == "--threads") threads = std::atoi(next().c_str());
    else if (a == "--ops") ops = true;
    else {
      std::fprintf(stderr,
                   "usage: bench_dimba_forward [--weights bf16|f32|f16] [--reps N] [--res 512] [--batch 2] "
                   "[--text-len 300] [--depth D] [--threads T] [--ops]\n");
      return 2;
    }
  }
  if (threads > 0) {  // before the pool's first use
    setenv("DIMBA_THREADS", std::to_string(threads).c_str(), 1);
    cpu::gemm_set_threads(threads);
  }
  DimbaConfig cfg = DimbaConfig::dimba_l_2(res);
  if (depth > 0) cfg.depth = depth, cfg.validate();
  const int H = res / 8, W = res / 8, N = (H / cfg.patch_size) * (W / cfg.patch_size);
  std::printf("Dimba-L/2 depth %d C %d: %dpx, latent %dx%d (N=%d), batch %d, L=%d, weights %s, op threads %d, gemm threads %d\n",
              cfg.depth, cfg.hidden_size, res, H, W, N, B, L, dtype_name(dtype), ThreadPool::global().size(), cpu::gemm_threads());

  double t0 = now_s();
  Checkpoint ck = random_checkpoint(cfg, dtype);
  DimbaModel model = DimbaModel::load(ck, cfg, dtype, ops ? bench::profiled(cpu_backend()) : cpu_backend());
  std::printf("  random weights made and bound in %.1f s: %.1f MiB\n", now_s() - t0, model.weight_bytes() / 1048576.0);

  Rand r{7};
  std::vector<float> x(size_t(B) * cfg.in_channels * H * W), t(size_t(B), 500.0f),
      y(size_t(B) * L * cfg.caption_channels), out(size_t(B) * cfg.out_channels * H * W);
  for (auto& v : x) v = r.uniform() * 1.7f;
  for (auto& v : y) v = r.uniform() * 0.3f;
  std::vector<int> lens(size_t(B), L);

  // Per-stage split from the activation hook's timestamps (hook cost is one clock read).
  std::map<std::string, double> split;
  double last = 0;
  auto hook = [&](const std::string& name, const float*, const std::vector<int64_t>&) {
    double now = now_s();
    std::string stage = name.rfind("act.blocks.", 0) == 0 ? "dimba blocks"
                        : name.rfind("act.mamba_blocks.", 0) == 0 ? "mamba blocks"
                        : "embed+final";
    if (name.find(".residual") == std::string::npos) split[stage] += now - last;
    last = now;
  };
  GemmProbe probe(cfg, B * N, dtype);
  std::vector<double> times, cpu_times;
  for (int i = 0; i <= reps; ++i) {  // run 0 warms up (and sizes the arena)
    probe.round();
    probe.round();
    split.clear();
    const double c0 = cpu_seconds();
    double s = now_s();
    last = s;
    model.forward(out.data(), x.data(), t.data(), y.data(), lens.data(), B, H, W, L, hook);
    double e = now_s() - s;
    if (i > 0) times.push_back(e), cpu_times.push_back(cpu_seconds() - c0);
    std::printf("  forward %d: %.2f s (dimba blocks %.2f, mamba blocks %.2f, embed+final %.2f)%s\n", i, e,
                split["dimba blocks"], split["mamba blocks"], split["embed+final"] + (e - (last - s)),
                i == 0 ? " [warm-up]" : "");
  }
  std::sort(times.begin(), times.end());
  const double med = times[times.size() / 2];
  if (ops) {
    bench::profile_start();
    model.forward(out.data(), x.data(), t.data(), y.data(), lens.data(), B, H, W, L);
    const std::vector<bench::OpRow> rows = bench::profile_stop();
    for (const std::string& l : bench::profile_table("One forward", rows, med)) std::printf("%s\n", l.c_str());
  }
  double finite = 0;
  for (float v : out) finite += std::isfinite(v) ? 0 : 1;
  Flops f = count_flops(cfg, B, N, L, lens);
  const double gflops = f.total() / med / 1e9;
  std::printf("  FLOPs per forward: %.1f G (linear %.1f, attention %.1f, scan+conv %.1f)\n", f.total() / 1e9,
              f.linear / 1e9, f.attention / 1e9, f.scan / 1e9);
  probe.round();
  const double gemm = probe.best_median(true);
  std::sort(cpu_times.begin(), cpu_times.end());
  std::printf("RESULT seconds/forward %.2f (median of %d; process CPU %.1f s) | %.1f GFLOP/s | best GEMM %.1f GFLOP/s "
              "| %.0f%% of GEMM\n",
              med, reps, cpu_times[cpu_times.size() / 2], gflops, gemm, 100.0 * gflops / gemm);
  // The same comparison per CPU second (process user+sys): robust to other processes taking
  // the CPU, which on shared build machines swings wall-clock rates by 2-4x. Conservative for
  // the forward: its op pool's threads count their CPU even where hyperthreads add little.
  const double cpu_med = cpu_times[cpu_times.size() / 2];
  const double gemm_cpu = probe.best_median(false, true);
  std::printf("RESULT per CPU second: forward %.1f GFLOP/s | best GEMM %.1f GFLOP/s | %.0f%% of GEMM\n",
              f.total() / cpu_med / 1e9, gemm_cpu, 100.0 * f.total() / cpu_med / 1e9 / gemm_cpu);
  std::printf("RESULT memory: peak RSS %.0f MiB | weights %.0f MiB | activation arena peak %.0f MiB | "
              "one [B,N,C] = %.1f MiB | non-finite outputs %.0f\n",
              peak_rss_mib(), model.weight_bytes() / 1048576.0, model.arena_peak_bytes() / 1048576.0,
              double(B) * N * cfg.hidden_size * 4 / 1048576.0, finite);
  return 0;
}
