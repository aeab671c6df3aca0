// Measures the CPU GEMM candidates side by side on Dimba-L's real shapes (M = 2048 rows:
// 1024 tokens at 512px x batch 2 under guidance) so that gemm.cpp's choice rests on numbers
// from this machine. Candidates run round-robin within each shape, so load from other
// processes hits all of them alike; the table shows medians. Results: native/bench/README.md.
// Usage: bench_gemm [--reps N] [--threads T] [--shape NAME] [--only NAME,NAME...]
// defines: main (bench_gemm)
#include <cblas.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/gemm.h"
#include "backend/cpu/gemm_kernels.h"
#include "core/dtype.h"

#ifdef DIMBA_BENCH_DNNL
#include <dnnl.hpp>
#endif

using namespace dimba;
using namespace dimba::cpu;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds of the whole process (every thread). On this shared 2-vCPU machine wall time
// swings by 2x while other engineers compile; with one thread, CPU time counts only the
// time the GEMM actually ran, so it is the steadier figure to compare candidates by.
double cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<float> randn(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double d = double(a[i]) - b[i];
    num += d * d;
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

struct Candidate {
  std::string name;
  std::function<void()> run;
  const std::vector<float>* out;   // what it wrote, to compare with the reference
  const std::vector<float>* ref;   // the exact product for its (rounded) weights
  std::vector<double> wall, cpu;
};

struct Shape {
  const char* name;
  int M, K, N;
  int kind;  // 0 linear, 1 attention scores q k^T per head, 2 attention p v per head
};

const Shape kShapes[] = {
    {"qkv", 2048, 1152, 3456, 0},      {"attn.proj", 2048, 1152, 1152, 0},
    {"mlp.fc1", 2048, 1152, 4608, 0},  {"mlp.fc2", 2048, 4608, 1152, 0},
    {"in_proj", 2048, 1152, 4608, 0},  {"out_proj", 2048, 2304, 1152, 0},
    {"x_proj", 2048, 2304, 104, 0},    {"dt_proj", 2048, 72, 2304, 0},
    {"y_emb.fc1", 2048, 4096, 1152, 0},
    {"attn q.kT", 1024, 72, 1024, 1},  {"attn p.v", 1024, 1024, 72, 2},
};

int g_threads = 1;
std::string g_only;  // run only candidates whose name contains one of these (a,b,...)

void set_threads(int t) {
  openblas_set_num_threads(t);
  gemm_set_threads(t);
  // oneDNN (Debian's is built on libgomp) reads OMP_NUM_THREADS at load; set it directly.
  using omp_fn = void (*)(int);
  if (auto f = reinterpret_cast<omp_fn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"))) f(t);
}

// Per shape, per candidate: median GFLOP/s by the chosen clock.
using Results = std::map<std::string, std::map<std::string, double>>;
std::vector<std::string> g_order;  // candidate names as they ran, for the table's columns

void bench_shape(const Shape& s, int reps, Results& results) {
  std::vector<Candidate> cands;
  const double flops = 2.0 * s.M * s.K * s.N;
  // Buffers live for the whole shape so each candidate's output can be checked afterwards.
  static std::vector<float> x, wf, wbf_f, wh_f, bias, ref_f32, ref_bf, ref_h;
  static std::vector<uint16_t> wbf, wh, xbf;
  static std::vector<std::vector<float>> outs;
  outs.assign(32, {});  // fixed size: candidates keep references into it
  int oi = 0;
  auto out = [&]() -> std::vector<float>& {
    outs[oi].assign(size_t(s.M) * s.N, 0.0f);
    return outs[oi++];
  };

  if (s.kind == 0) {
    x = randn(size_t(s.M) * s.K, 1);
    wf = randn(size_t(s.N) * s.K, 2);
    for (auto& v : wf) v *= 1.0f / std::sqrt(float(s.K));
    bias = randn(s.N, 3);
    wbf.resize(wf.size()); wh.resize(wf.size()); wbf_f.resize(wf.size()); wh_f.resize(wf.size());
    for (size_t i = 0; i < wf.size(); ++i) {
      wbf[i] = f32_to_bf16(wf[i]); wbf_f[i] = bf16_to_f32(wbf[i]);
      wh[i] = f32_to_f16(wf[i]);   wh_f[i] = f16_to_f32(wh[i]);
    }
    // References: OpenBLAS f32 on the f32 / rounded weights (f32 accumulation either way).
    auto blas_ref = [&](std::vector<float>& r, const std::vector<float>& w) {
      r.resize(size_t(s.M) * s.N);
      for (int i = 0; i < s.M; ++i) std::memcpy(&r[size_t(i) * s.N], bias.data(), 4 * s.N);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.M, s.N, s.K, 1.0f, x.data(), s.K,
                  w.data(), s.K, 1.0f, r.data(), s.N);
    };
    blas_ref(ref_f32, wf); blas_ref(ref_bf, wbf_f); blas_ref(ref_h, wh_f);
    const int M = s.M, K = s.K, N = s.N;
    auto add = [&](const char* name, GemmPath p, DType dt, const void* w,
                   const std::vector<float>* ref) {
      if (!gemm_path_available(p)) return;
      auto& y = out();
      cands.push_back({name, [&y, p, dt, w, M, K, N] {
                         linear_forward_path(p, y.data(), x.data(), w, dt, bias.data(), M, K, N,
                                             false);
                       }, &y, ref, {}, {}});
    };
    add("blas f32", GemmPath::Blas, DType::F32, wf.data(), &ref_f32);
    add("blas bf16 panel", GemmPath::Blas, DType::BF16, wbf.data(), &ref_bf);
    add("blas f16 panel", GemmPath::Blas, DType::F16, wh.data(), &ref_h);
    // OpenBLAS sbgemm (activations rounded to bf16 each call, cost included) exists only
    // when OpenBLAS was built with BUILD_BFLOAT16; Debian 12's is not, so look it up.
    using sbgemm_fn = void (*)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, int, int, int,
                               float, const uint16_t*, int, const uint16_t*, int, float, float*,
                               int);
    static auto sbgemm = reinterpret_cast<sbgemm_fn>(dlsym(RTLD_DEFAULT, "cblas_sbgemm"));
    if (sbgemm) {
      auto& y = out();
      cands.push_back({"blas sbgemm (x->bf16)", [&y, M, K, N] {
                         xbf.resize(size_t(M) * K);
                         for (size_t i = 0; i < xbf.size(); ++i) xbf[i] = f32_to_bf16(x[i]);
                         for (int i = 0; i < M; ++i)
                           std::memcpy(&y[size_t(i) * N], bias.data(), 4 * N);
                         sbgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f,
                                xbf.data(), K, wbf.data(), K, 1.0f, y.data(), N);
                       }, &y, &ref_bf, {}, {}});
    } else {
      static bool said = false;
      if (!said) std::printf("(cblas_sbgemm: not exported by this OpenBLAS, skipped)\n");
      said = true;
    }
    add("avx512 f32", GemmPath::Avx512, DType::F32, wf.data(), &ref_f32);
    add("avx512 bf16", GemmPath::Avx512, DType::BF16, wbf.data(), &ref_bf);
    add("avx512 f16", GemmPath::Avx512, DType::F16, wh.data(), &ref_h);
    add("avx512bf16 dot (x->bf16)", GemmPath::Avx512Bf16, DType::BF16, wbf.data(), &ref_bf);
#ifdef DIMBA_BENCH_DNNL
    {
      using namespace dnnl;
      using dt = memory::data_type;
      using tag = memory::format_tag;
      static engine eng(engine::kind::cpu, 0);
      static stream strm(eng);
      auto make = [&](const char* name, dt d, const void* w, const std::vector<float>* ref) {
        memory::desc src_md({M, K}, d, tag::ab), w_md({K, N}, d, tag::ba),
            b_md({1, N}, dt::f32, tag::ab), dst_md({M, N}, dt::f32, tag::ab);
        auto pd = matmul::primitive_desc(matmul::desc(src_md, w_md, b_md, dst_md), eng);
        auto prim = std::make_shared<matmul>(pd);
        auto& y = out();
        cands.push_back({name, [&y, prim, d, w, src_md, w_md, b_md, dst_md, M, K] {
                           const void* src = x.data();
                           if (d == dt::bf16) {
                             xbf.resize(size_t(M) * K);
                             for (size_t i = 0; i < xbf.size(); ++i) xbf[i] = f32_to_bf16(x[i]);
                             src = xbf.data();
                           }
                           memory sm(src_md, eng, const_cast<void*>(src)),
                               wm(w_md, eng, const_cast<void*>(w)),
                               bm(b_md, eng, bias.data()), dm(dst_md, eng, y.data());
                           prim->execute(strm, {{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, wm},
                                                {DNNL_ARG_BIAS, bm}, {DNNL_ARG_DST, dm}});
                           strm.wait();
                         }, &y, ref, {}, {}});
      };
      make("onednn f32", dt::f32, wf.data(), &ref_f32);
      make("onednn bf16 (x->bf16)", dt::bf16, wbf.data(), &ref_bf);
    }
#endif
  } else {
    // One head of attention inside the [tokens, 3*C] qkv tensor (row stride 3456) and the
    // [tokens, tokens] probabilities: the strided views the engine passes.
    const int T = 1024, D = 72, ld = 3456;
    x = randn(size_t(T) * ld, 4);              // qkv
    wf = randn(size_t(T) * T, 5);              // scores / probabilities
    const bool qk = s.kind == 1;
    const float alpha = qk ? 1.0f / std::sqrt(float(D)) : 1.0f;
    const int M = s.M, N = s.N, K = s.K;
    const float* A = qk ? x.data() : wf.data();
    const int lda = qk ? ld : T;
    const float* B = qk ? x.data() + 1152 : x.data() + 2304;
    const int ldb = ld;
    ref_f32.assign(size_t(M) * N, 0.0f);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, qk ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                lda, B, ldb, 0.0f, ref_f32.data(), N);
    auto& y1 = out();
    cands.push_back({"blas f32", [&y1, qk, M, N, K, alpha, A, lda, B, ldb] {
                       cblas_sgemm(CblasRowMajor, CblasNoTrans, qk ? CblasTrans : CblasNoTrans,
                                   M, N, K, alpha, A, lda, B, ldb, 0.0f, y1.data(), N);
                     }, &y1, &ref_f32, {}, {}});
    if (gemm_path_available(GemmPath::Avx512)) {
      auto& y2 = out();
      cands.push_back({"avx512 f32", [&y2, qk, M, N, K, alpha, A, lda, B, ldb] {
                         sgemm(false, qk, M, N, K, alpha, A, lda, B, ldb, 0.0f, y2.data(), N);
                       }, &y2, &ref_f32, {}, {}});
    }
  }

  if (!g_only.empty()) {
    std::vector<Candidate> keep;
    for (auto& c : cands) {
      // a comma-separated list of name fragments
      for (size_t at = 0; at <= g_only.size();) {
        size_t end = g_only.find(',', at);
        if (end == std::string::npos) end = g_only.size();
        if (c.name.find(g_only.substr(at, end - at)) != std::string::npos) {
          keep.push_back(c);
          break;
        }
        at = end + 1;
      }
    }
    cands.swap(keep);
  }
  for (auto& c : cands) c.run();  // warm-up: page in buffers, grow packing buffers
  // Round-robin, so a burst of load from elsewhere lands on every candidate alike.
  for (int r = 0; r < reps; ++r)
    for (auto& c : cands) {
      double w0 = now_s(), c0 = cpu_s();
      c.run();
      c.cpu.push_back(cpu_s() - c0);
      c.wall.push_back(now_s() - w0);
    }
  std::printf("\n%s  M=%d K=%d N=%d  (%d threads, %d reps; GFLOP/s, median by CPU time and by "
              "wall time, best wall)\n",
              s.name, s.M, s.K, s.N, g_threads, reps);
  double best = 0;
  for (auto& c : cands) best = std::max(best, flops / median(g_threads == 1 ? c.cpu : c.wall));
  for (auto& c : cands) {
    const double rc = flops / median(c.cpu) * 1e-9, rw = flops / median(c.wall) * 1e-9,
                 rb = flops / *std::min_element(c.wall.begin(), c.wall.end()) * 1e-9;
    const double r = g_threads == 1 ? rc : rw;
    std::printf("  %-26s cpu %6.1f  wall %6.1f  best %6.1f  %5.2f of best  rel_l2 %.1e\n",
                c.name.c_str(), rc, rw, rb, r / (best * 1e-9), rel_l2(*c.out, *c.ref));
    results[s.name][c.name] = r;
    g_order.push_back(c.name);
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 7;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) g_threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--shape") && i + 1 < argc) only = argv[++i];
    else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) g_only = argv[++i];
    else {
      std::fprintf(stderr, "usage: bench_gemm [--reps N] [--threads T] [--shape NAME] [--only NAME,NAME...]\n");
      return 2;
    }
  }
  set_threads(g_threads);
  std::printf("bench_gemm: OpenBLAS %s, OPENBLAS_CORETYPE=%s\n", openblas_get_config(),
              std::getenv("OPENBLAS_CORETYPE") ? std::getenv("OPENBLAS_CORETYPE") : "(unset)");
  Results results;
  std::vector<std::string> names;  // candidates in first-seen order
  for (auto& s : kShapes) {
    if (!only.empty() && only != s.name) continue;
    bench_shape(s, reps, results);
    for (auto& name : g_order)
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  // One table for the README: rows are shapes, columns candidates.
  std::printf("\nsummary: GFLOP/s, median by %s time, %d thread(s)\n| shape |",
              g_threads == 1 ? "CPU" : "wall", g_threads);
  for (auto& n : names) std::printf(" %s |", n.c_str());
  std::printf("\n|---|");
  for (size_t i = 0; i < names.size(); ++i) std::printf("---|");
  std::printf("\n");
  double best = 0;
  std::string best_at;
  for (auto& s : kShapes) {
    auto it = results.find(s.name);
    if (it == results.end()) continue;
    std::printf("| %s |", s.name);
    for (auto& n : names) {
      auto r = it->second.find(n);
      if (r == it->second.end()) {
        std::printf(" - |");
        continue;
      }
      std::printf(" %.0f |", r->second);
      if (r->second > best) best = r->second, best_at = n + " on " + s.name;
    }
    std::printf("\n");
  }
  std::printf("best GEMM rate measured: %.0f GFLOP/s (%s)\n", best, best_at.c_str());
  return 0;
}
