// The Vulkan backend beside the CPU backend: per-op timings on model-shaped inputs, then whole
// forwards (Dimba with random weights at a reduced Dimba-L shape, the VAE-shaped random VAE
// decode, and the golden t5-tiny / vae-tiny / dimba-wide models), each run on both backends in
// the same process so that load on a shared machine hits both alike. Prints one table: wall
// milliseconds (median of --reps after one warm-up), process CPU milliseconds (every thread of
// the process, lavapipe's included), and the Vulkan/CPU ratio; plus the largest relative
// difference of the Vulkan output from the CPU's, so a fast wrong kernel cannot hide. A second
// table (--only reductions) times the reduction shaders' portable and subgroup variants; a third
// (--only train) whole training steps and what the host-side optimiser costs on Vulkan;
// --only backward the training ops one by one.
// Usage: bench_vulkan [--reps N] [--depth D] [--res PX] [--text-len L]
//                     [--only ops|backward|reductions|forward|train]
// Exits 77 with the reason when there is no Vulkan device. Results: native/bench/README.md.
// defines: main (bench_vulkan)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/vulkan/vulkan_backend.h"
#include "core/tensor.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/dimba.h"
#include "models/t5_encoder.h"
#include "models/vae.h"
#include "sampling/schedule.h"
#include "training/dimba_train.h"
#include "training/loss.h"
#include "training/optim.h"
#include "training/param_mirror.h"

using namespace dimba;

namespace {

double wall_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
double cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Timing {
  double wall_ms, cpu_ms;
};

// Median wall and CPU time of `fn` (which must finish its work: it synchronizes).
Timing time_it(int reps, const std::function<void()>& fn) {
  fn();  // warm-up: pipelines, first-touch, arena growth
  std::vector<double> w, c;
  for (int i = 0; i < reps; ++i) {
    const double w0 = wall_s(), c0 = cpu_s();
    fn();
    w.push_back(1e3 * (wall_s() - w0));
    c.push_back(1e3 * (cpu_s() - c0));
  }
  std::sort(w.begin(), w.end());
  std::sort(c.begin(), c.end());
  return {w[w.size() / 2], c[c.size() / 2]};
}

double rel_diff(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    den += double(want[i]) * want[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

void row(const std::string& name, const Timing& cpu, const Timing& vk, double diff) {
  std::printf("| %-44s | %10.2f | %10.2f | %10.2f | %10.2f | %7.1fx | %8.1e |\n", name.c_str(), cpu.wall_ms, vk.wall_ms,
              cpu.cpu_ms, vk.cpu_ms, vk.wall_ms / cpu.wall_ms, diff);
  std::fflush(stdout);
}

void header(const char* what) {
  std::printf("\n%s\n", what);
  std::printf("| %-44s | %10s | %10s | %10s | %10s | %8s | %8s |\n", "op / forward", "cpu ms", "vulkan ms", "cpu CPU-ms",
              "vk CPU-ms", "vk/cpu", "rel diff");
  std::printf("|%s|%s|%s|%s|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(12, '-').c_str(),
              std::string(12, '-').c_str(), std::string(12, '-').c_str(), std::string(12, '-').c_str(),
              std::string(10, '-').c_str(), std::string(10, '-').c_str());
}

std::mt19937 rng(7);
std::vector<float> randn(size_t n, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// One op on both backends: `run(be, bufs)` calls it with pointers into `bufs` (host copies
// for the CPU, device copies for Vulkan); output is buffer `out_index`.
void bench_op(const std::string& name, int reps, const Backend& vk, std::vector<std::vector<float>> host,
              size_t out_index, const std::function<void(const Backend&, std::vector<float*>&)>& run) {
  std::vector<float*> hp;
  for (auto& h : host) hp.push_back(h.data());
  std::vector<float*> dp;
  for (auto& h : host) {
    float* d = static_cast<float*>(vk.alloc(h.size() * 4));
    vk.upload(d, h.data(), h.size() * 4);
    dp.push_back(d);
  }
  const Backend& cpu = cpu_backend();
  const std::vector<float> start = host[out_index];  // accumulating ops see the same output
  Timing tc = time_it(reps, [&] { run(cpu, hp); });
  Timing tv = time_it(reps, [&] {
    run(vk, dp);
    vk.synchronize();
  });
  // One more run of each from the same output contents, to compare.
  host[out_index] = start;
  vk.upload(dp[out_index], start.data(), start.size() * 4);
  run(cpu, hp);
  run(vk, dp);
  std::vector<float> got(start.size());
  vk.download(got.data(), dp[out_index], got.size() * 4);
  row(name, tc, tv, rel_diff(got, host[out_index]));
  for (float* d : dp) vk.free(d);
}

void bench_ops(int reps, const Backend& vk) {
  header("Ops (Dimba-L shapes at 256px: N = 256 tokens x batch 2 = 512 rows, C = 1152, 16 heads of 72)");
  const int M = 512, C = 1152, Hm = 4608, B = 2, T = 256, H = 16, hd = 72, Di = 2304, Ns = 16, L = 120;
  auto as_f32 = [](float* p) { return static_cast<const void*>(p); };
  bench_op("linear f32 512x1152 -> 4608 (mlp.fc1)", reps, vk, {randn(size_t(M) * Hm), randn(size_t(M) * C),
           randn(size_t(Hm) * C, 0.03f), randn(Hm)}, 0, [&](const Backend& be, std::vector<float*>& b) {
             be.linear_forward(b[0], b[1], as_f32(b[2]), DType::F32, b[3], M, C, Hm, false);
           });
  {
    // bf16 weights: the same bits on both backends (the host buffer holds packed uint16 pairs).
    std::vector<float> wf = randn(size_t(Hm) * C, 0.03f), packed(size_t(Hm) * C / 2);
    convert_from_f32(packed.data(), DType::BF16, wf.data(), wf.size());
    bench_op("linear bf16 512x1152 -> 4608", reps, vk, {randn(size_t(M) * Hm), randn(size_t(M) * C), packed,
             randn(Hm)}, 0, [&](const Backend& be, std::vector<float*>& b) {
               be.linear_forward(b[0], b[1], as_f32(b[2]), DType::BF16, b[3], M, C, Hm, false);
             });
  }
  bench_op("attention self B2 T256 16x72", reps, vk, {randn(size_t(B) * T * C), randn(size_t(B) * T * 3 * C)}, 0,
           [&](const Backend& be, std::vector<float*>& b) {
             be.attention_forward(b[0], b[1], b[1] + C, b[1] + 2 * C, nullptr, B, T, T, H, hd, 3 * C, 3 * C, C);
           });
  bench_op("attention cross B2 T256 L120 16x72", reps, vk, {randn(size_t(B) * T * C), randn(size_t(B) * T * C),
           randn(size_t(B) * L * 2 * C)}, 0, [&](const Backend& be, std::vector<float*>& b) {
             be.attention_forward(b[0], b[1], b[2], b[2] + C, nullptr, B, T, L, H, hd, C, 2 * C, C);
           });
  {
    std::vector<float> A = randn(size_t(Di) * Ns);
    for (auto& a : A) a = -std::fabs(a) - 0.1f;
    std::vector<float> delta = randn(size_t(T) * Di, 0.1f);
    for (auto& d : delta) d = std::fabs(d) + 1e-3f;
    bench_op("selective_scan T256 D2304 N16", reps, vk, {randn(size_t(T) * Di), randn(size_t(T) * Di), delta, A,
             randn(size_t(T) * 2 * Ns), randn(Di), randn(size_t(T) * Di)}, 0,
             [&](const Backend& be, std::vector<float*>& b) {
               be.selective_scan_forward(b[0], b[1], b[2], b[3], b[4], b[4] + Ns, b[5], b[6], T, Di, Ns, 2 * Ns, Di,
                                         false, false, false);
             });
  }
  bench_op("conv1d_causal_depthwise T256 D2304 K4", reps, vk, {randn(size_t(T) * Di), randn(size_t(T) * Di),
           randn(size_t(Di) * 4), randn(Di)}, 0, [&](const Backend& be, std::vector<float*>& b) {
             be.conv1d_causal_depthwise_forward(b[0], b[1], b[2], b[3], T, Di, 4, Di, false);
           });
  bench_op("layernorm 512x1152", reps, vk, {randn(size_t(M) * C), randn(size_t(M) * C)}, 0,
           [&](const Backend& be, std::vector<float*>& b) {
             be.layernorm_forward(b[0], nullptr, nullptr, b[1], nullptr, nullptr, M, C, 1e-6f);
           });
  bench_op("modulate B2 T256 C1152", reps, vk, {randn(size_t(M) * C), randn(size_t(M) * C), randn(size_t(B) * 6 * C)},
           0, [&](const Backend& be, std::vector<float*>& b) {
             be.modulate_forward(b[0], b[1], b[2], b[2] + C, B, T, C, 6 * C);
           });
  bench_op("gelu_tanh 512x4608", reps, vk, {randn(size_t(M) * Hm), randn(size_t(M) * Hm)}, 0,
           [&](const Backend& be, std::vector<float*>& b) { be.gelu_tanh_forward(b[0], b[1], int64_t(M) * Hm); });
  bench_op("mul 512x4608 (T5 gate)", reps, vk, {randn(size_t(M) * Hm), randn(size_t(M) * Hm), randn(size_t(M) * Hm)},
           0, [&](const Backend& be, std::vector<float*>& b) { be.mul_forward(b[0], b[1], b[2], int64_t(M) * Hm); });
  bench_op("copy_rows 512 x 72 of 104 (Mamba dt)", reps, vk, {randn(size_t(M) * 72), randn(size_t(M) * 104)}, 0,
           [&](const Backend& be, std::vector<float*>& b) { be.copy_rows_forward(b[0], b[1], M, 72, 72, 104); });
  {
    const int HH = 64, WW = 64, Ci = 128, Co = 128;  // a VAE full-resolution resnet conv at 512px / 8
    bench_op("conv2d 3x3 64x64 128->128 (VAE)", reps, vk, {randn(size_t(HH) * WW * Co), randn(size_t(HH) * WW * Ci),
             randn(size_t(Co) * 9 * Ci, 0.03f), randn(Co)}, 0, [&](const Backend& be, std::vector<float*>& b) {
               be.conv2d_forward(b[0], b[1], as_f32(b[2]), DType::F32, b[3], 1, HH, WW, Ci, Co, 3, 1, 1, 1, 1, 1,
                                 false);
             });
    bench_op("group_norm 64x64 C128 G32 (VAE)", reps, vk, {randn(size_t(HH) * WW * Ci), randn(size_t(HH) * WW * Ci),
             randn(Ci), randn(Ci)}, 0, [&](const Backend& be, std::vector<float*>& b) {
               be.group_norm_forward(b[0], nullptr, nullptr, b[1], b[2], b[3], 1, HH * WW, Ci, 32, 1e-6f);
             });
  }
}

// The training ops at the same shapes (gradients accumulate: bench_op restarts the compared
// output from the same contents on both backends). The compared output is named in brackets.
void bench_backward_ops(int reps, const Backend& vk) {
  header("Backward ops (the same Dimba-L shapes at 256px; [the output compared])");
  const int M = 512, C = 1152, Hm = 4608, B = 2, T = 256, H = 16, hd = 72, Di = 2304, Ns = 16;
  bench_op("linear_backward 512x1152 -> 4608 [dW]", reps, vk, {randn(size_t(Hm) * C), randn(size_t(M) * C),
           randn(Hm), randn(size_t(M) * Hm), randn(size_t(M) * C), randn(size_t(Hm) * C, 0.03f)}, 0,
           [&](const Backend& be, std::vector<float*>& b) {
             be.linear_backward(b[4], b[0], b[2], b[3], b[1], b[5], M, C, Hm);
           });
  bench_op("attention_backward self B2 T256 16x72 [dqkv]", reps, vk, {randn(size_t(B) * T * 3 * C),
           randn(size_t(B) * T * C), randn(size_t(B) * T * 3 * C)}, 0,
           [&](const Backend& be, std::vector<float*>& b) {
             be.attention_backward(b[0], b[0] + C, b[0] + 2 * C, b[1], b[2], b[2] + C, b[2] + 2 * C, nullptr, B, T, T,
                                   H, hd, 3 * C, 3 * C, C);
           });
  {
    std::vector<float> A = randn(size_t(Di) * Ns);
    for (auto& a : A) a = -std::fabs(a) - 0.1f;
    std::vector<float> delta = randn(size_t(T) * Di, 0.1f);
    for (auto& d : delta) d = std::fabs(d) + 1e-3f;
    // outputs: du, ddelta, dA, dBC, dD, dz; inputs: dy, u, delta, A, BC, D, z
    bench_op("selective_scan_backward T256 D2304 N16 [dBC]", reps, vk, {randn(size_t(T) * Di), randn(size_t(T) * Di),
             randn(size_t(Di) * Ns), randn(size_t(T) * 2 * Ns), randn(Di), randn(size_t(T) * Di),
             randn(size_t(T) * Di), randn(size_t(T) * Di), delta, A, randn(size_t(T) * 2 * Ns), randn(Di),
             randn(size_t(T) * Di)}, 3, [&](const Backend& be, std::vector<float*>& b) {
               be.selective_scan_backward(b[0], b[1], b[2], b[3], b[3] + Ns, b[4], b[5], b[6], b[7], b[8], b[9], b[10],
                                          b[10] + Ns, b[11], b[12], T, Di, Ns, 2 * Ns, Di, 2 * Ns, Di, false);
             });
  }
  bench_op("conv1d_backward T256 D2304 K4 [dweight]", reps, vk, {randn(size_t(Di) * 4), randn(size_t(T) * Di),
           randn(Di), randn(size_t(T) * Di), randn(size_t(T) * Di), randn(size_t(Di) * 4)}, 0,
           [&](const Backend& be, std::vector<float*>& b) {
             be.conv1d_causal_depthwise_backward(b[1], b[0], b[2], b[3], b[4], b[5], T, Di, 4, Di, false);
           });
  {
    std::vector<float> rstd = randn(M, 0.1f);
    for (auto& r : rstd) r = std::fabs(r) + 0.5f;
    bench_op("layernorm_backward 512x1152 [dinp]", reps, vk, {randn(size_t(M) * C), randn(size_t(M) * C),
             randn(size_t(M) * C), randn(M), rstd}, 0, [&](const Backend& be, std::vector<float*>& b) {
               be.layernorm_backward(b[0], nullptr, nullptr, b[1], b[2], nullptr, b[3], b[4], M, C);
             });
    bench_op("rmsnorm_backward 512x1152 [dweight]", reps, vk, {randn(C), randn(size_t(M) * C), randn(size_t(M) * C),
             randn(size_t(M) * C), randn(C), rstd}, 0, [&](const Backend& be, std::vector<float*>& b) {
               be.rmsnorm_backward(b[1], b[0], b[2], b[3], b[4], b[5], M, C);
             });
  }
  bench_op("modulate_backward B2 T256 C1152 [dmod]", reps, vk, {randn(size_t(B) * 6 * C),
           randn(size_t(M) * C), randn(size_t(M) * C), randn(size_t(M) * C), randn(size_t(B) * 6 * C)}, 0,
           [&](const Backend& be, std::vector<float*>& b) {
             be.modulate_backward(b[1], b[0], b[0] + C, b[2], b[3], b[4] + C, B, T, C, 6 * C);
           });
  bench_op("gelu_tanh_backward 512x4608", reps, vk, {randn(size_t(M) * Hm), randn(size_t(M) * Hm),
           randn(size_t(M) * Hm)}, 0, [&](const Backend& be, std::vector<float*>& b) {
             be.gelu_tanh_backward(b[0], b[1], b[2], int64_t(M) * Hm);
           });
}

// One reduction op on Vulkan with each shader variant (the portable shared-memory trees, then
// the subgroup-arithmetic ones), timed in the same process, each output compared with the CPU's.
void bench_variants(const std::string& name, int reps, const Backend& vk, std::vector<std::vector<float>> host,
                    size_t out_index, const std::function<void(const Backend&, std::vector<float*>&)>& run) {
  std::vector<float*> hp, dp;
  for (auto& h : host) hp.push_back(h.data());
  for (auto& h : host) {
    float* d = static_cast<float*>(vk.alloc(h.size() * 4));
    vk.upload(d, h.data(), h.size() * 4);
    dp.push_back(d);
  }
  const std::vector<float> start = host[out_index];
  run(cpu_backend(), hp);
  // The variants alternate rep by rep (after one warm-up each), so that load on a shared
  // machine hits both alike; medians of the wall times.
  std::vector<double> w[2];
  for (int i = -1; i < reps; ++i)
    for (int sg = 0; sg < 2; ++sg) {
      vulkan_set_subgroup_reductions(sg == 1);
      const double w0 = wall_s();
      run(vk, dp);
      vk.synchronize();
      if (i >= 0) w[sg].push_back(1e3 * (wall_s() - w0));
    }
  double t[2], diff[2];
  for (int sg = 0; sg < 2; ++sg) {
    std::sort(w[sg].begin(), w[sg].end());
    t[sg] = w[sg][w[sg].size() / 2];
    vulkan_set_subgroup_reductions(sg == 1);
    vk.upload(dp[out_index], start.data(), start.size() * 4);
    run(vk, dp);
    std::vector<float> got(start.size());
    vk.download(got.data(), dp[out_index], got.size() * 4);
    diff[sg] = rel_diff(got, host[out_index]);
  }
  std::printf("| %-44s | %12.2f | %12.2f | %7.2fx | %8.1e | %8.1e |\n", name.c_str(), t[0], t[1], t[0] / t[1],
              diff[0], diff[1]);
  std::fflush(stdout);
  for (float* d : dp) vk.free(d);
}

void bench_reductions(int reps, const Backend& vk) {
  const VulkanDeviceInfo info = vulkan_device_info();
  if (!info.subgroup_arithmetic) {
    std::printf("\nReductions: the device has no subgroup arithmetic, one shader variant only\n");
    return;
  }
  std::printf("\nReduction shaders on Vulkan: portable (shared-memory tree) vs subgroup arithmetic (%u wide)\n",
              info.subgroup_size);
  std::printf("| %-44s | %12s | %12s | %8s | %8s | %8s |\n", "op", "portable ms", "subgroup ms", "speed-up",
              "diff p.", "diff s.");
  std::printf("|%s|%s|%s|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(14, '-').c_str(),
              std::string(14, '-').c_str(), std::string(10, '-').c_str(), std::string(10, '-').c_str(),
              std::string(10, '-').c_str());
  const int M = 512, C = 1152, B = 2, T = 256, H = 16, hd = 72, L = 120;
  bench_variants("layernorm 512x1152", reps, vk, {randn(size_t(M) * C), randn(size_t(M) * C)}, 0,
                 [&](const Backend& be, std::vector<float*>& b) {
                   be.layernorm_forward(b[0], nullptr, nullptr, b[1], nullptr, nullptr, M, C, 1e-6f);
                 });
  bench_variants("rmsnorm 512x1152", reps, vk, {randn(size_t(M) * C), randn(size_t(M) * C), randn(C)}, 0,
                 [&](const Backend& be, std::vector<float*>& b) {
                   be.rmsnorm_forward(b[0], nullptr, b[1], b[2], M, C, 1e-6f);
                 });
  bench_variants("attention self B2 T256 16x72", reps, vk, {randn(size_t(B) * T * C), randn(size_t(B) * T * 3 * C)},
                 0, [&](const Backend& be, std::vector<float*>& b) {
                   be.attention_forward(b[0], b[1], b[1] + C, b[1] + 2 * C, nullptr, B, T, T, H, hd, 3 * C, 3 * C, C);
                 });
  bench_variants("attention cross B2 T256 L120 16x72", reps, vk, {randn(size_t(B) * T * C), randn(size_t(B) * T * C),
                 randn(size_t(B) * L * 2 * C)}, 0, [&](const Backend& be, std::vector<float*>& b) {
                   be.attention_forward(b[0], b[1], b[2], b[2] + C, nullptr, B, T, L, H, hd, C, 2 * C, C);
                 });
  {
    const int Ht = 8, hdt = 64, Ct = Ht * hdt;  // a T5-base-like encoder layer over 120 tokens
    bench_variants("attention_bias B2 T120 8x64 (T5)", reps, vk, {randn(size_t(B) * L * Ct),
                   randn(size_t(B) * L * 3 * Ct), randn(size_t(Ht) * L * L)}, 0,
                   [&](const Backend& be, std::vector<float*>& b) {
                     be.attention_bias_forward(b[0], b[1], b[1] + Ct, b[1] + 2 * Ct, b[2], nullptr, B, L, L, Ht, hdt,
                                               3 * Ct, 3 * Ct, Ct);
                   });
  }
  const int HH = 64, WW = 64, Ci = 128;
  bench_variants("group_norm 64x64 C128 G32 (VAE)", reps, vk, {randn(size_t(HH) * WW * Ci),
                 randn(size_t(HH) * WW * Ci), randn(Ci), randn(Ci)}, 0, [&](const Backend& be, std::vector<float*>& b) {
                   be.group_norm_forward(b[0], nullptr, nullptr, b[1], b[2], b[3], 1, HH * WW, Ci, 32, 1e-6f);
                 });
  vulkan_set_subgroup_reductions(info.subgroup_reductions);
}

// Random Dimba weights like bench_dimba_forward's (Linear ~ U(-1,1)/sqrt(fan_in), Mamba's own
// A/dt/D init), so activations stay O(1) and the comparison means something.
Checkpoint random_dimba(const DimbaConfig& cfg) {
  Checkpoint ck;
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const auto& [name, shape] : dimba_expected_tensors(cfg)) {
    const size_t n = size_t(shape_numel(shape));
    auto mem = aligned_alloc_shared(n * 4);
    float* v = static_cast<float*>(mem.get());
    auto ends = [&](const char* s) {
      return name.size() >= std::strlen(s) && name.compare(name.size() - std::strlen(s), std::string::npos, s) == 0;
    };
    if (ends("A_log") || ends("A_b_log")) {
      for (size_t i = 0; i < n; ++i) v[i] = std::log(float(i % size_t(shape[1]) + 1));
    } else if (ends(".D") || ends(".D_b") || ends("norm.weight")) {
      std::fill(v, v + n, 1.0f);
    } else if (ends("dt_proj.bias") || ends("dt_proj_b.bias")) {
      for (size_t i = 0; i < n; ++i) {
        const float dt = std::exp(std::log(1e-3f) + (0.5f * u(rng) + 0.5f) * (std::log(1e-1f) - std::log(1e-3f)));
        v[i] = dt + std::log(-std::expm1(-dt));
      }
    } else {
      const float scale = shape.size() >= 2 ? 1.0f / std::sqrt(float(n / size_t(shape[0]))) : 0.02f;
      for (size_t i = 0; i < n; ++i) v[i] = u(rng) * scale;
    }
    ck.storage.push_back(mem);
    ck.tensors[name] = TensorEntry{DType::F32, shape, static_cast<const uint8_t*>(mem.get()), n * 4};
  }
  return ck;
}

void bench_dimba(int reps, const Backend& vk, int depth, int res, int L, DType wdtype) {
  DimbaConfig cfg = DimbaConfig::dimba_l_2(512);
  cfg.depth = depth;
  cfg.mamba_ratio = 1.0;
  cfg.validate();
  const Checkpoint ck = random_dimba(cfg);
  const int B = 2, h = res / 8;
  auto x = randn(size_t(B) * 4 * h * h), y = randn(size_t(B) * L * cfg.caption_channels);
  std::vector<float> t = {999.0f, 500.0f};
  std::vector<int> lens = {L, L / 2};
  std::vector<float> oc(size_t(B) * 8 * h * h), ov(oc.size());
  DimbaModel mc = DimbaModel::load(ck, cfg, wdtype, cpu_backend());
  DimbaModel mv = DimbaModel::load(ck, cfg, wdtype, vk);
  Timing tc = time_it(reps, [&] { mc.forward(oc.data(), x.data(), t.data(), y.data(), lens.data(), B, h, h, L); });
  Timing tv = time_it(reps, [&] { mv.forward(ov.data(), x.data(), t.data(), y.data(), lens.data(), B, h, h, L); });
  char name[96];
  std::snprintf(name, sizeof name, "Dimba-L width, depth %d, %dpx, B2 L%d, %s", depth, res, L, dtype_name(wdtype));
  row(name, tc, tv, rel_diff(ov, oc));
}

// The golden tiny models, read from DIMBA_GOLDEN_DIR (or ../shared/golden from the repo root).
std::string golden(const std::string& file) {
  const char* env = std::getenv("DIMBA_GOLDEN_DIR");
  return std::string(env ? env : "../shared/golden") + "/" + file;
}

void bench_golden_models(int reps, const Backend& vk) {
  {
    const std::string p = golden("dimba-wide.json");
    DimbaConfig cfg = DimbaConfig::from_json(parse_json_untrusted(read_text_file(p), p));
    Checkpoint w = load_safetensors(golden("dimba-wide.weights.safetensors"));
    Checkpoint io = load_safetensors(golden("dimba-wide.io.safetensors"));
    const TensorEntry &ex = *io.find("input.x"), &ey = *io.find("input.y"), &et = *io.find("input.t");
    const int B = int(ex.shape[0]), H = int(ex.shape[2]), W = int(ex.shape[3]), L = int(ey.shape[2]);
    const float *x = reinterpret_cast<const float*>(ex.data), *y = reinterpret_cast<const float*>(ey.data),
                *t = reinterpret_cast<const float*>(et.data);
    std::vector<float> oc(size_t(B) * cfg.out_channels * H * W), ov(oc.size());
    DimbaModel mc = DimbaModel::load(w, cfg, DType::F32, cpu_backend()), mv = DimbaModel::load(w, cfg, DType::F32, vk);
    Timing tc = time_it(reps, [&] { mc.forward(oc.data(), x, t, y, nullptr, B, H, W, L); });
    Timing tv = time_it(reps, [&] { mv.forward(ov.data(), x, t, y, nullptr, B, H, W, L); });
    row("dimba-wide (golden), f32", tc, tv, rel_diff(ov, oc));
  }
  {
    const std::string p = golden("t5-tiny.json");
    T5Config cfg = T5Config::from_json(parse_json_untrusted(read_text_file(p), p));
    Checkpoint w = load_safetensors(golden("t5-tiny.weights.safetensors"));
    const int B = 11, L = 16;
    std::vector<int32_t> ids(size_t(B) * L);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 7919) % size_t(cfg.vocab_size));
    std::vector<float> oc(size_t(B) * L * cfg.d_model), ov(oc.size());
    T5Encoder ec = T5Encoder::load(w, cfg, T5WeightFormat::F32, cpu_backend());
    T5Encoder ev = T5Encoder::load(w, cfg, T5WeightFormat::F32, vk);
    Timing tc = time_it(reps, [&] { ec.forward(oc.data(), ids.data(), nullptr, B, L); });
    Timing tv = time_it(reps, [&] { ev.forward(ov.data(), ids.data(), nullptr, B, L); });
    row("t5-tiny (golden) B11 L16, f32", tc, tv, rel_diff(ov, oc));
  }
  {
    const std::string p = golden("vae-tiny.json");
    VaeConfig cfg = VaeConfig::from_json(parse_json_untrusted(read_text_file(p), p));
    Checkpoint w = load_safetensors(golden("vae-tiny.weights.safetensors"));
    VaeModel vc = VaeModel::load(w, cfg, DType::F32, cpu_backend()), vv = VaeModel::load(w, cfg, DType::F32, vk);
    const int B = 1, h = 32;  // a 128x128 image
    auto z = randn(size_t(B) * cfg.latent_channels * h * h);
    const int f = cfg.downscale();
    std::vector<float> oc(size_t(B) * cfg.out_channels * h * f * h * f), ov(oc.size());
    Timing tc = time_it(reps, [&] { vc.decode(oc.data(), z.data(), B, h, h); });
    Timing tv = time_it(reps, [&] { vv.decode(ov.data(), z.data(), B, h, h); });
    char name[96];
    std::snprintf(name, sizeof name, "vae-tiny (golden) decode %dx%d latent, f32", h, h);
    row(name, tc, tv, rel_diff(ov, oc));
  }
}


// Training steps (forward + IDDPM loss + backward, gradients zeroed first) of the golden
// dimba-tiny and dimba-wide models on both backends from the same inputs (dimba-tiny's golden
// step; dimba-wide's forward inputs with fixed noise and timesteps), the relative difference of
// all gradients; then what keeping the optimiser on the host costs on Vulkan: the parameter
// upload at each forward and the gradients' upload and download around each backward, beside
// one CAME step on the host.
void bench_train(int reps, const Backend& vk) {
  for (const char* name : {"dimba-tiny", "dimba-wide"}) {
    const std::string p = golden(std::string(name) + ".json");
    DimbaConfig cfg = DimbaConfig::from_json(parse_json_untrusted(read_text_file(p), p));
    Checkpoint w = load_safetensors(golden(std::string(name) + ".weights.safetensors"));
    Checkpoint io = load_safetensors(golden(std::string(name) + ".io.safetensors"));
    const TensorEntry &ex = *io.find("input.x"), &ey = *io.find("input.y");
    const int B = int(ex.shape[0]), Cin = int(ex.shape[1]), H = int(ex.shape[2]), W = int(ex.shape[3]);
    const int L = int(ey.shape[2]);
    const size_t n = size_t(B) * Cin * H * W;
    std::vector<float> x0(reinterpret_cast<const float*>(ex.data), reinterpret_cast<const float*>(ex.data) + n);
    std::vector<float> y(reinterpret_cast<const float*>(ey.data),
                         reinterpret_cast<const float*>(ey.data) + size_t(B) * L * cfg.caption_channels);
    std::vector<float> noise = randn(n), xt(n), tf(static_cast<size_t>(B));
    std::vector<int64_t> t(static_cast<size_t>(B));
    for (int b = 0; b < B; ++b) t[size_t(b)] = 13 + 487 * b % 1000, tf[size_t(b)] = float(t[size_t(b)]);
    const DiscreteVpSchedule& sch = DiscreteVpSchedule::dimba();
    iddpm_noisy_input(xt.data(), x0.data(), noise.data(), t.data(), B, int64_t(Cin) * H * W, sch);
    ParamSet params = ParamSet::from_checkpoint(w, cfg);
    DimbaTrainer tc(cfg, params), tv(cfg, params, nullptr, 1.0, vk);
    std::vector<float> out(size_t(B) * cfg.out_channels * H * W), dout(out.size());
    auto step = [&](DimbaTrainer& tr) {
      tr.grads().zero();
      tr.forward(out.data(), xt.data(), tf.data(), y.data(), nullptr, B, H, W, L);
      iddpm_loss(dout.data(), out.data(), x0.data(), noise.data(), t.data(), B, Cin, int64_t(H) * W, sch);
      tr.backward(dout.data());
    };
    Timing c = time_it(reps, [&] { step(tc); });
    Timing v = time_it(reps, [&] { step(tv); });
    char label[96];
    std::snprintf(label, sizeof label, "%s train step B%d %dx%d L%d, f32", name, B, H, W, L);
    row(label, c, v, rel_diff(tv.grads().data, tc.grads().data));
    ParamSet grads = ParamSet::zeros_like(params);
    ParamMirror pm(vk, params), gm(vk, grads);
    const Timing sync = time_it(reps, [&] { pm.upload(); gm.upload(); gm.download(); });
    Came came(params, CameOptions{});
    const Timing tcame = time_it(reps, [&] { came.step(params, grads); });
    std::printf("|   %s: params up + grads up/down on vulkan %.2f ms (%zu floats each way); one CAME step on the "
                "host %.2f ms\n", name, sync.wall_ms, params.data.size(), tcame.wall_ms);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 3, depth = 2, res = 128, L = 60;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) { std::fprintf(stderr, "%s needs a value\n", a.c_str()); std::exit(2); }
      return argv[++i];
    };
    if (a == "--reps") reps = std::max(1, std::atoi(next().c_str()));
    else if (a == "--depth") depth = std::atoi(next().c_str());
    else if (a == "--res") res = std::atoi(next().c_str());
    else if (a == "--text-len") L = std::atoi(next().c_str());
    else if (a == "--only") only = next();
    else {
      std::fprintf(stderr, "usage: bench_vulkan [--reps N] [--depth D] [--res PX] [--text-len L]"
                           " [--only ops|backward|reductions|forward|train]\n");
      return 2;
    }
  }
  const Backend* vk = nullptr;
  try {
    vk = &vulkan_backend();
  } catch (const EngineError& e) {
    std::printf("SKIP bench_vulkan: %s\n", e.what());
    return 77;
  }
  std::printf("vulkan device: %s (%s); medians of %d after one warm-up\n", vulkan_device_info().name.c_str(),
              vulkan_device_info().kernels.c_str(), reps);
  try {
    if (only.empty() || only == "ops") bench_ops(reps, *vk);
    if (only.empty() || only == "backward") bench_backward_ops(reps, *vk);
    if (only.empty() || only == "reductions") bench_reductions(reps, *vk);
    if (only.empty() || only == "forward") {
      header("Whole forwards (same inputs on both backends)");
      bench_golden_models(reps, *vk);
      bench_dimba(reps, *vk, depth, res, L, DType::F32);
      bench_dimba(reps, *vk, depth, res, L, DType::BF16);
    }
    if (only.empty() || only == "train") {
      header("Training steps (same inputs on both backends; rel diff over every gradient)");
      bench_train(reps, *vk);
    }
  } catch (const EngineError& e) {
    std::fprintf(stderr, "bench_vulkan: %s: %s\n", error_code_name(e.code), e.what());
    return 3;
  }
  return 0;
}
