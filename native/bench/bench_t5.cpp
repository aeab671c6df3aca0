// The T5-v1.1-XXL encoder on the CPU with random weights (d_model 4096, 64 heads of 64,
// d_ff 10240, 24 layers), one prompt of 300 tokens (batch 1), weights generated directly in
// the format under test (bf16: 9.5 GB; int8 with per-row scales: 4.8 GB), so peak memory is
// that format's own. Prints seconds per forward (best of --reps), GFLOP/s (FLOPs counted
// analytically: every Linear and both attention products), peak RSS (getrusage), weight bytes
// and the activation arena peak.
// --error N: instead, int8 against bf16 on the SAME random weights (int8 quantised from the
// bf16 values) over N random prompts of random lengths, at XXL width with --layers layers
// (default 2 here: both formats must fit in memory at once); prints the relative L2 error of
// the int8 embedding at the real tokens per prompt and overall.
// Usage: bench_t5 [--format bf16|int8] [--tokens 300] [--layers 24] [--reps 2] [--threads T]
//                 [--error N]
// --threads sets both the op pool (DIMBA_THREADS) and the GEMM's threads.
// Results and the command: native/bench/README.md ("T5 encoder").
// defines: main (bench_t5)
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backend/cpu/gemm_kernels.h"
#include "backend/cpu/ops.h"
#include "core/tensor.h"
#include "core/threadpool.h"
#include "models/t5_encoder.h"

using namespace dimba;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_s() {  // user + system time of all threads: on a shared machine, wall time alone misleads
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

double peak_rss_gib() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / (1024.0 * 1024.0);  // Linux: KiB
}

// xorshift64*: uniform numbers fast enough for 4.6B weights.
struct Rand {
  uint64_t s;
  float uniform() {  // [-1, 1)
    s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
    return float(int64_t((s * 0x2545F4914F6CDD1Dull) >> 11) - (int64_t(1) << 52)) / float(int64_t(1) << 52);
  }
};

// Fills `rows` rows of K values ~ uniform with standard deviation `stdev` (seeded per row, so
// the same seed gives the same weights in any format), handing each f32 row to `sink`.
template <class Sink>
void random_rows(int rows, int K, float stdev, uint64_t seed, Sink sink) {
  const float a = stdev * std::sqrt(3.0f);
  ThreadPool::global().parallel_for(rows, [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(K));
    for (int64_t r = r0; r < r1; ++r) {
      Rand rng{(seed * 0x9E3779B97F4A7C15ull) ^ (uint64_t(r) + 1) * 0xD1B54A32D192ED03ull};
      for (int k = 0; k < 8; ++k) rng.uniform();
      for (int k = 0; k < K; ++k) row[size_t(k)] = a * rng.uniform();
      sink(r, row.data());
    }
  }, 16);
}

struct Builder {
  T5WeightFormat format;
  std::vector<std::shared_ptr<void>> storage;
  uint64_t seed = 1;

  // A Linear [rows, K] in the builder's format. Int8 is quantised from the bf16-rounded
  // values, so a bf16 and an int8 encoder built with the same seeds hold the same weights.
  T5Linear linear(int rows, int K, float stdev) {
    const uint64_t s = seed++;
    if (format == T5WeightFormat::BF16) {
      auto mem = aligned_alloc_shared(size_t(rows) * K * 2);
      uint16_t* w = static_cast<uint16_t*>(mem.get());
      random_rows(rows, K, stdev, s, [&](int64_t r, float* row) { convert_from_f32(w + r * K, DType::BF16, row, size_t(K)); });
      storage.push_back(mem);
      return {w, DType::BF16, nullptr};
    }
    auto q = aligned_alloc_shared(size_t(rows) * K);
    auto sc = aligned_alloc_shared(size_t(rows) * 4);
    int8_t* qp = static_cast<int8_t*>(q.get());
    float* sp = static_cast<float*>(sc.get());
    random_rows(rows, K, stdev, s, [&](int64_t r, float* row) {
      for (int k = 0; k < K; ++k) row[k] = bf16_to_f32(f32_to_bf16(row[k]));
      cpu::quantize_rows_int8(qp + r * K, sp + r, row, 1, K);
    });
    storage.push_back(q);
    storage.push_back(sc);
    return {qp, DType::U8, sp};
  }
  const float* f32(size_t n, float value) {
    auto mem = aligned_alloc_shared(n * 4);
    std::fill(static_cast<float*>(mem.get()), static_cast<float*>(mem.get()) + n, value);
    storage.push_back(mem);
    return static_cast<const float*>(mem.get());
  }
};

// T5's own initialisation scales (transformers' T5PreTrainedModel._init_weights, factor 1):
// q ~ (d_model*d_kv)^-1/2, k/v/wi ~ d_model^-1/2, o ~ (H*d_kv)^-1/2, wo ~ d_ff^-1/2,
// embedding ~ 1, so attention logits and the residual stream have realistic sizes.
T5Encoder random_encoder(const T5Config& c, T5WeightFormat format) {
  Builder b{format, {}, 1};
  T5Weights w;
  const int D = c.d_model, I = c.inner(), F = c.d_ff;
  {
    auto mem = aligned_alloc_shared(size_t(c.vocab_size) * D * 2);
    uint16_t* e = static_cast<uint16_t*>(mem.get());
    random_rows(c.vocab_size, D, 1.0f, 1000, [&](int64_t r, float* row) { convert_from_f32(e + r * D, DType::BF16, row, size_t(D)); });
    b.storage.push_back(mem);
    w.embed = e;
    w.embed_dtype = DType::BF16;
  }
  {
    auto mem = aligned_alloc_shared(size_t(c.num_buckets) * c.num_heads * 4);
    float* t = static_cast<float*>(mem.get());
    random_rows(c.num_buckets, c.num_heads, 1.0f / std::sqrt(float(D)), 2000,
                [&](int64_t r, float* row) { std::memcpy(t + r * c.num_heads, row, size_t(c.num_heads) * 4); });
    b.storage.push_back(mem);
    w.rel_bias = t;
  }
  for (int i = 0; i < c.num_layers; ++i) {
    T5LayerWeights l;
    l.attn_norm = b.f32(size_t(D), 1.0f);
    l.q = b.linear(I, D, 1.0f / std::sqrt(float(D) * c.d_kv));
    l.k = b.linear(I, D, 1.0f / std::sqrt(float(D)));
    l.v = b.linear(I, D, 1.0f / std::sqrt(float(D)));
    l.o = b.linear(D, I, 1.0f / std::sqrt(float(I)));
    l.ff_norm = b.f32(size_t(D), 1.0f);
    l.wi_0 = b.linear(F, D, 1.0f / std::sqrt(float(D)));
    l.wi_1 = b.linear(F, D, 1.0f / std::sqrt(float(D)));
    l.wo = b.linear(D, F, 1.0f / std::sqrt(float(F)));
    w.layers.push_back(l);
  }
  w.final_norm = b.f32(size_t(D), 1.0f);
  return T5Encoder::from_weights(c, format, std::move(w), std::move(b.storage),
                                 std::string("random:") + t5_weight_format_name(format));
}

double forward_flops(const T5Config& c, int L) {
  const double D = c.d_model, I = c.inner(), F = c.d_ff;
  const double per_layer = 2.0 * L * (4 * D * I + 3 * D * F) + 2.0 * 2.0 * double(L) * L * I;
  return per_layer * c.num_layers;
}

// Random prompt: `len` real tokens (random ids >= 3, then </s>), zero-padded to L.
void random_prompt(std::vector<int32_t>& ids, std::vector<int32_t>& mask, int L, int len, Rand& rng, int vocab) {
  ids.assign(size_t(L), 0);
  mask.assign(size_t(L), 0);
  for (int t = 0; t < len; ++t) {
    ids[size_t(t)] = t == len - 1 ? 1 : 3 + int((rng.uniform() * 0.5f + 0.5f) * float(vocab - 4));
    mask[size_t(t)] = 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string fmt = "bf16";
  int L = 300, layers = -1, reps = 2, threads = 0, error_prompts = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--format") fmt = next();
    else if (a == "--tokens") L = std::atoi(next().c_str());
    else if (a == "--layers") layers = std::atoi(next().c_str());
    else if (a == "--reps") reps = std::atoi(next().c_str());
    else if (a == "--threads") threads = std::atoi(next().c_str());
    else if (a == "--error") error_prompts = std::atoi(next().c_str());
    else {
      std::fprintf(stderr, "usage: bench_t5 [--format bf16|int8] [--tokens 300] [--layers 24] [--reps 2] "
                           "[--threads T] [--error N]\n");
      return 2;
    }
  }
  if (threads > 0) {
    setenv("DIMBA_THREADS", std::to_string(threads).c_str(), 1);
    cpu::gemm_set_threads(threads);
  }
  T5Config c = T5Config::xxl();
  if (layers > 0) c.num_layers = layers;
  else if (error_prompts > 0) c.num_layers = 2;
  std::printf("T5 encoder bench: d_model %d, heads %d x %d, d_ff %d, layers %d, tokens %d, batch 1, "
              "pool threads %d, gemm threads %d\n",
              c.d_model, c.num_heads, c.d_kv, c.d_ff, c.num_layers, L, ThreadPool::global().size(),
              cpu::gemm_threads());

  if (error_prompts > 0) {
    T5Encoder bf = random_encoder(c, T5WeightFormat::BF16);
    T5Encoder q8 = random_encoder(c, T5WeightFormat::Int8);
    Rand rng{12345};
    const int D = c.d_model;
    std::vector<int32_t> ids, mask;
    std::vector<float> ob(size_t(L) * D), oq(ob.size());
    double num = 0, den = 0;
    for (int p = 0; p < error_prompts; ++p) {
      const int len = 1 + int((rng.uniform() * 0.5f + 0.5f) * float(L - 1));
      random_prompt(ids, mask, L, len, rng, c.vocab_size);
      bf.forward(ob.data(), ids.data(), mask.data(), 1, L);
      q8.forward(oq.data(), ids.data(), mask.data(), 1, L);
      double n = 0, d = 0;
      for (size_t i = 0; i < size_t(len) * D; ++i) {
        n += double(oq[i] - ob[i]) * (oq[i] - ob[i]);
        d += double(ob[i]) * ob[i];
      }
      num += n;
      den += d;
      std::printf("  prompt %2d: %3d tokens, int8 vs bf16 rel_l2 %.3e\n", p, len, std::sqrt(n / d));
    }
    std::printf("int8 vs bf16 over %d prompts (%d layers): rel_l2 %.3e\n", error_prompts, c.num_layers,
                std::sqrt(num / den));
    return 0;
  }

  T5WeightFormat format;
  if (fmt == "bf16") format = T5WeightFormat::BF16;
  else if (fmt == "int8") format = T5WeightFormat::Int8;
  else {
    std::fprintf(stderr, "bench_t5: --format must be bf16 or int8\n");
    return 2;
  }
  double t0 = now_s();
  T5Encoder enc = random_encoder(c, format);
  const double gen_s = now_s() - t0;
  std::printf("weights: %s, %.2f GB (generated in %.1f s), peak RSS after generation %.2f GiB\n",
              t5_weight_format_name(format), double(enc.weight_bytes()) / 1e9, gen_s, peak_rss_gib());

  Rand rng{777};
  std::vector<int32_t> ids, mask;
  random_prompt(ids, mask, L, L, rng, c.vocab_size);  // all 300 tokens real (the most work)
  std::vector<float> out(size_t(L) * c.d_model);
  const double flops = forward_flops(c, L);
  double best = 1e30;
  for (int r = 0; r < std::max(1, reps); ++r) {
    t0 = now_s();
    const double c0 = cpu_s();
    enc.forward(out.data(), ids.data(), mask.data(), 1, L);
    const double s = now_s() - t0, cs = cpu_s() - c0;
    best = std::min(best, s);
    std::printf("  forward %d: %.2f s wall, %.2f s CPU (%.1f GFLOP/s wall)\n", r, s, cs, flops / s / 1e9);
  }
  double sum = 0;
  for (float v : out) sum += double(v) * v;
  std::printf("%s: %.2f s per forward (best of %d), %.0f GFLOP -> %.1f GFLOP/s; peak RSS %.2f GiB; weights %.2f GB; "
              "activations %.1f MB; output rms %.3f\n",
              t5_weight_format_name(format), best, std::max(1, reps), flops / 1e9, flops / best / 1e9,
              peak_rss_gib(), double(enc.weight_bytes()) / 1e9, double(enc.arena_peak_bytes()) / 1e6,
              std::sqrt(sum / double(out.size())));
  return 0;
}
