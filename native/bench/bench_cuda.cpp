// Dimba-L/2 on the CUDA backend (issue 14's performance acceptance): random deterministic
// weights in bf16 (bench/dimba_bench_model.h; no real checkpoint is reachable from the GPU
// machine), 512px and 1024px (latents 64 and 128), 20 steps of DPM-Solver++(2M) with
// classifier-free guidance (the model runs on the doubled batch of 2), one image at a time,
// L = 300 text tokens of which --text-len are kept (both halves use the prompt's mask, as the
// reference does). Prints and writes (--out FILE, markdown):
// - the card's bf16 matmul rate measured in this run (cuBLAS, square 8192 GEMMs, bf16 inputs,
//   f32 accumulation; f32 and bf16 outputs, the better taken as the card's rate);
// - per resolution: seconds per image (median of --images after one warm-up image), seconds
//   per forward, the achieved TFLOP/s over the whole denoising loop (FLOPs of the forward
//   counted analytically: every Linear, both attention products, the scan, the conv; times the
//   steps) and its fraction of the card's rate, peak memory (the backend's allocations:
//   weights + activations + op scratch; and the device's used memory, cuBLAS and context included);
//   the same loop again with each forward replayed from a CUDA graph as the pipeline does it
//   (pipeline/graphed_forward.h; its output checked equal to the plain forward's); then the
//   SDXL VAE's decode of one image (random bf16 weights, untiled, as the pipeline decodes up to
//   1024px) and the seconds per image with it;
// - where one forward's time goes, op by op (bench/op_profile.h: every op synchronised and
//   timed, Linears and attention by shape), and the main ops alone at the model's shapes
//   (median of --reps, default 10, synchronised);
// - with --train: a LoRA training step at 512px (rank 16 on the default targets, batch 1, f32
//   parameters mirrored on the device by DimbaTrainer): forward + backward, median of 3; the
//   optimiser (CAME on the host over the adapters only) is not in the time; one step op by op.
// Usage: bench_cuda [--res 512,1024] [--steps 20] [--images 2] [--text-len 120] [--depth D]
//                   [--no-ops] [--reps 10] [--train] [--probe 8192] [--latent S] [--out FILE]
// --probe N sizes the rate probe's GEMMs and --latent S runs every model at an S x S latent
// instead of the resolution's: with small values they make the rehearsal that runs on the CPU
// emulator in the tests (native/tests/cuda_emu), not a measurement.
// Exits 77 when there is no CUDA device (the reason printed).
// defines: main (bench_cuda)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "backend/cuda/cuda_backend.h"
#include "core/error.h"
#include "core/rng.h"
#include "dimba_bench_model.h"
#include "op_profile.h"
#include "models/dimba.h"
#include "models/vae.h"
#include "pipeline/graphed_forward.h"
#include "sampling/cfg.h"
#include "sampling/sampler.h"
#include "training/dimba_train.h"
#include "training/lora.h"

using namespace dimba;

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

double gib(size_t b) { return double(b) / double(1ull << 30); }

// Times fn (which ends with the backend synchronised) `reps` times after one warm-up call.
double time_median(const Backend& be, int reps, const std::function<void()>& fn) {
  fn();
  be.synchronize();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const double t0 = now_s();
    fn();
    be.synchronize();
    t.push_back(now_s() - t0);
  }
  return median(t);
}

struct Report {
  std::ostringstream md;
  void line(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    std::printf("%s\n", buf);
    std::fflush(stdout);
    md << buf << "\n";
  }
};

// A device buffer of n floats filled with normals (seeded), freed with the scope.
struct DevBuf {
  const Backend& be;
  float* p;
  DevBuf(const Backend& b, size_t n, uint64_t seed, float scale = 1.0f) : be(b) {
    std::vector<float> h(n);
    fill_normal(h.data(), n, seed, 0);
    for (float& v : h) v *= scale;
    p = static_cast<float*>(be.alloc(n * 4));
    be.upload(p, h.data(), n * 4);
  }
  ~DevBuf() { be.free(p); }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
};

// The main ops alone at the shapes of one forward (B = 2).
void op_table(Report& rep, const Backend& be, const DimbaConfig& c, int N, int L, int text_len, int reps) {
  const int B = 2, C = c.hidden_size, H = c.num_heads, hd = C / H, Hm = c.mlp_hidden(), Di = c.d_inner();
  const int Ns = c.d_state, R = c.dt_rank_resolved(), xs = R + 2 * Ns;
  const int64_t BN = int64_t(B) * N;
  rep.line("| op (B=2, N=%d) | ms | TFLOP/s |", N);
  rep.line("| --- | ---: | ---: |");
  auto row = [&](const char* name, double s, double flops) {
    rep.line("| %s | %.3f | %.1f |", name, s * 1e3, flops > 0 ? flops / s / 1e12 : 0.0);
  };
  {
    std::vector<uint16_t> w(size_t(Hm) * C);
    bench::Rand r{11};
    for (auto& v : w) v = f32_to_bf16(r.uniform() * 0.03f);
    void* dw = be.alloc(w.size() * 2);
    be.upload(dw, w.data(), w.size() * 2);
    DevBuf x(be, size_t(BN) * Hm, 1), y(be, size_t(BN) * Hm, 2), b(be, size_t(Hm), 3);
    row("linear qkv (bf16, K=C, N=3C)",
        time_median(be, reps, [&] { be.linear_forward(y.p, x.p, dw, DType::BF16, b.p, int(BN), C, 3 * C, false); }),
        2.0 * BN * C * 3 * C);
    row("linear mlp.fc1 (bf16, K=C, N=4C)",
        time_median(be, reps, [&] { be.linear_forward(y.p, x.p, dw, DType::BF16, b.p, int(BN), C, Hm, false); }),
        2.0 * BN * C * Hm);
    row("linear mlp.fc2 (bf16, K=4C, N=C)",
        time_median(be, reps, [&] { be.linear_forward(y.p, x.p, dw, DType::BF16, b.p, int(BN), Hm, C, false); }),
        2.0 * BN * Hm * C);
    // The block's MLP both ways (random weights stand in for fc2's: a timing).
    const double mlp_flops = 4.0 * BN * C * Hm;
    row("MLP as three ops (fc1, gelu, fc2)", time_median(be, reps, [&] {
          be.linear_forward(y.p, x.p, dw, DType::BF16, b.p, int(BN), C, Hm, false);
          be.gelu_tanh_forward(y.p, y.p, BN * Hm);
          be.linear_forward(x.p, y.p, dw, DType::BF16, b.p, int(BN), Hm, C, false);
        }),
        mlp_flops);
    row("mlp_forward (GELU in fc1's epilogue, the hidden in bf16)", time_median(be, reps, [&] {
          be.mlp_forward(x.p, y.p, x.p, dw, b.p, dw, b.p, DType::BF16, int(BN), C, Hm, C);
        }),
        mlp_flops);
    // The block's self-attention both ways (dw's rows stand in for both projections' weights).
    const double attn_flops = 2.0 * BN * C * 4 * C + 4.0 * B * double(N) * N * C;
    row("self-attention as three ops (qkv, mma.sync flash, proj)", time_median(be, reps, [&] {
          be.linear_forward(y.p, x.p, dw, DType::BF16, b.p, int(BN), C, 3 * C, false);
          be.attention_forward(x.p, y.p, y.p + C, y.p + 2 * C, nullptr, B, N, N, H, hd, 3 * C, 3 * C, C);
          be.linear_forward(y.p, x.p, dw, DType::BF16, b.p, int(BN), C, C, false);
        }),
        attn_flops);
    row("self_attention_forward (bf16 between the three)", time_median(be, reps, [&] {
          be.self_attention_forward(y.p, y.p, x.p, x.p, dw, b.p, dw, b.p, DType::BF16, B, N, C, H);
        }),
        attn_flops);
    // And the cross-attention (onto x, which grows a little with each repeat: a timing).
    DevBuf ctx(be, size_t(B) * L * C, 13), kv(be, size_t(B) * L * 2 * C, 14);
    const std::vector<int> lens(B, text_len);
    int* dl = static_cast<int*>(be.alloc(B * 4));
    be.upload(dl, lens.data(), B * 4);
    float* a = y.p + BN * C;  // the attention output beside q in y
    const double cross_flops = 4.0 * BN * C * C + 4.0 * B * L * C * C + 4.0 * B * double(N) * text_len * C;
    row("cross-attention as four ops (q, kv, mma.sync flash, proj onto x)", time_median(be, reps, [&] {
          be.linear_forward(y.p, x.p, dw, DType::BF16, b.p, int(BN), C, C, false);
          be.linear_forward(kv.p, ctx.p, dw, DType::BF16, b.p, B * L, C, 2 * C, false);
          be.attention_forward(a, y.p, kv.p, kv.p + C, dl, B, N, L, H, hd, C, 2 * C, C);
          be.linear_forward(x.p, a, dw, DType::BF16, b.p, int(BN), C, C, true);
        }),
        cross_flops);
    row("cross_attention_forward (bf16 between them)", time_median(be, reps, [&] {
          be.cross_attention_forward(x.p, y.p, kv.p, a, ctx.p, dl, dw, b.p, dw, b.p, dw, b.p, DType::BF16, B, N, L, C,
                                     H);
        }),
        cross_flops);
    // The whole attention block both ways (dw and b stand in for every Linear's weights and
    // biases, random rows for the table, t0 and the ones; x grows with each repeat: a timing).
    {
      DevBuf mod(be, size_t(B) * 6 * C, 15), w1(be, size_t(B) * C, 16), h(be, size_t(BN) * C, 17),
          q(be, size_t(BN) * C, 18), hid(be, size_t(BN) * Hm, 19), t0(be, size_t(B) * 6 * C, 20, 0.1f),
          table(be, size_t(6) * C, 21, 0.1f), ones(be, size_t(C), 22);
      const DimbaBlock blk{table.p, ones.p, dw, dw, dw, dw, dw, dw, dw, b.p, b.p, b.p, b.p, b.p, b.p, b.p,
                           DType::BF16, C, H, Hm};
      const DimbaBlockScratch sc{mod.p, w1.p, h.p, y.p, q.p, kv.p, a, hid.p};
      row("attention block as its ops (f32 between them)", time_median(be, reps, [&] {
            composed_dimba_block_forward(be, x.p, sc, ctx.p, dl, t0.p, blk, B, N, L);
          }),
          attn_flops + cross_flops + mlp_flops);
      row("dimba_block_forward (bf16 between its steps)", time_median(be, reps, [&] {
            be.dimba_block_forward(be, x.p, sc, ctx.p, dl, t0.p, blk, B, N, L);
          }),
          attn_flops + cross_flops + mlp_flops);
    }
    be.free(dl);
    be.free(dw);
  }
  {
    DevBuf qkv(be, size_t(BN) * 3 * C, 4), out(be, size_t(BN) * C, 5);
    using K = CudaAttentionKernel;
    for (K kernel : {K::Mma, K::Mma16, K::Wmma}) {
      const K was = cuda_set_attention_kernel(kernel);
      row(kernel == K::Mma     ? "self-attention (flash, mma.sync, 32 rows a warp)"
          : kernel == K::Mma16 ? "self-attention (flash, mma.sync, 16 rows a warp)"
                               : "self-attention (flash, WMMA kernel)",
          time_median(be, reps, [&] {
            be.attention_forward(out.p, qkv.p, qkv.p + C, qkv.p + 2 * C, nullptr, B, N, N, H, hd, 3 * C, 3 * C, C);
          }),
          4.0 * B * double(N) * N * C);
      cuda_set_attention_kernel(was);
    }
    DevBuf kv(be, size_t(B) * L * 2 * C, 6);
    std::vector<int> lens(B, text_len);
    int* dl = static_cast<int*>(be.alloc(B * 4));
    be.upload(dl, lens.data(), B * 4);
    row("cross-attention (k_lens)", time_median(be, reps, [&] {
          be.attention_forward(out.p, qkv.p, kv.p, kv.p + C, dl, B, N, L, H, hd, 3 * C, 2 * C, C);
        }),
        4.0 * B * double(N) * text_len * C);
    be.free(dl);
    row("layernorm, then modulate (two passes)", time_median(be, reps, [&] {
          be.layernorm_forward(out.p, nullptr, nullptr, qkv.p, nullptr, nullptr, BN, C, 1e-6f);
          be.modulate_forward(out.p, out.p, qkv.p, qkv.p + C, B, N, C, 6 * C);
        }),
        0.0);
    // What the model runs: the modulation as LayerNorm's per-sample affine (random rows stand
    // in for the ones and the 1 + scale scratch; this is a timing).
    row("layernorm_modulate (one pass)", time_median(be, reps, [&] {
          composed_layernorm_modulate(be, out.p, qkv.p, qkv.p, qkv.p + C, 6 * C, kv.p, kv.p + C, B, N, C);
        }),
        0.0);
    row("gelu (B*N*4C)", time_median(be, reps, [&] { be.gelu_tanh_forward(qkv.p, qkv.p, BN * C * 3); }), 0.0);
  }
  {
    DevBuf u(be, size_t(BN) * Di, 7, 0.5f), xz(be, size_t(BN) * 2 * Di, 8), xdbl(be, size_t(BN) * xs, 9),
        y(be, size_t(BN) * Di, 10), delta(be, size_t(BN) * Di, 12, 0.01f);
    std::vector<float> A(size_t(Di) * Ns), Dk(size_t(Di), 1.0f), cw(size_t(Di) * c.d_conv, 0.25f);
    for (size_t i = 0; i < A.size(); ++i) A[i] = -float(i % size_t(Ns) + 1);
    float* dA = static_cast<float*>(be.alloc(A.size() * 4));
    float* dD = static_cast<float*>(be.alloc(Dk.size() * 4));
    float* dcw = static_cast<float*>(be.alloc(cw.size() * 4));
    be.upload(dA, A.data(), A.size() * 4);
    be.upload(dD, Dk.data(), Dk.size() * 4);
    be.upload(dcw, cw.data(), cw.size() * 4);
    be.softplus_forward(delta.p, delta.p, BN * Di);
    row("conv1d, then silu (both samples)", time_median(be, reps, [&] {
          for (int b = 0; b < B; ++b)
            be.conv1d_causal_depthwise_forward(u.p + int64_t(b) * N * Di, xz.p + int64_t(b) * N * 2 * Di, dcw, nullptr,
                                               N, Di, c.d_conv, 2 * Di, false);
          be.silu_forward(u.p, u.p, BN * Di);
        }),
        2.0 * c.d_conv * BN * Di);
    row("conv1d_causal_depthwise_silu_forward (both samples)", time_median(be, reps, [&] {
          for (int b = 0; b < B; ++b)
            be.conv1d_causal_depthwise_silu_forward(u.p + int64_t(b) * N * Di, xz.p + int64_t(b) * N * 2 * Di, dcw,
                                                    nullptr, N, Di, c.d_conv, 2 * Di, false);
        }),
        2.0 * c.d_conv * BN * Di);
    // delta here is already softplus'd; the fused rows apply softplus once more (a timing).
    // Both scan kernels, and the softplus as its own pass beside the one inside the scan.
    struct ScanRow { const char* name; bool chunked, fused; };
    for (ScanRow r : {ScanRow{"softplus, then the one-pass selective scan (both samples, one direction)", false, false},
                      ScanRow{"one-pass selective scan, softplus inside (warp per channel)", false, true},
                      ScanRow{"chunked two-pass selective scan, softplus inside", true, true}}) {
      const bool was = cuda_set_scan_kernel(r.chunked);
      row(r.name, time_median(be, reps, [&] {
            if (!r.fused) be.softplus_forward(y.p, delta.p, BN * Di);
            for (int b = 0; b < B; ++b) {
              const int64_t t0 = int64_t(b) * N;
              be.selective_scan_forward(y.p + t0 * Di, u.p + t0 * Di, delta.p + t0 * Di, dA, xdbl.p + t0 * xs + R,
                                        xdbl.p + t0 * xs + R + Ns, dD, xz.p + t0 * 2 * Di + Di, N, Di, Ns, xs, 2 * Di,
                                        false, false, r.fused);
            }
          }),
          double(BN) * Di * (6.0 * Ns + 4));
      cuda_set_scan_kernel(was);
    }
    // The whole Mamba block both ways: its ops with f32 between them, and the op (bf16 between
    // its steps; scan.cu). One random bf16 matrix stands in for all four Linears' weights, the
    // ones of D for the norm's.
    {
      std::vector<uint16_t> w(size_t(2) * Di * C);
      bench::Rand r{13};
      for (auto& v : w) v = f32_to_bf16(r.uniform() * 0.03f);
      void* dw = be.alloc(w.size() * 2);
      be.upload(dw, w.data(), w.size() * 2);
      DevBuf res(be, size_t(BN) * C, 14), out(be, size_t(BN) * C, 15), h(be, size_t(BN) * C, 16),
          dtr(be, size_t(BN) * R, 17);
      const MambaDirection dir{dcw, dD, dw, dw, dD, dA, dD};
      const MambaBlock m{dD, 1e-5f, dw, {dir, dir}, dw, DType::BF16, C, Di, Ns, R, c.d_conv};
      const MambaBlockScratch sc{h.p, xz.p, u.p, xdbl.p, dtr.p, delta.p, y.p};
      const double flops = 2.0 * BN * (3.0 * C * Di + 2.0 * (Di * xs + R * Di)) + 2.0 * BN * Di * (6.0 * Ns + 4);
      row("Mamba block as its ops (f32 between them)", time_median(be, reps, [&] {
            composed_mamba_block_forward(be, out.p, sc, res.p, m, B, N);
          }),
          flops);
      row("mamba_block_forward (bf16 between its steps)",
          time_median(be, reps, [&] { be.mamba_block_forward(be, out.p, sc, res.p, m, B, N); }), flops);
      be.free(dw);
    }
    be.free(dA);
    be.free(dD);
    be.free(dcw);
  }
}

// Returns the seconds per image of the graph-replayed loop (the pipeline's).
double bench_resolution(Report& rep, int res, int latent, int steps, int images, int text_len, int depth,
                        double card_tflops, bool ops, int reps) {
  // The profiling copy calls straight through except around the one profiled forward.
  const Backend& be = bench::profiled(cuda_backend());
  DimbaConfig cfg = DimbaConfig::dimba_l_2(res);
  if (depth > 0) cfg.depth = depth;
  const int S = latent > 0 ? latent : res / 8, L = cfg.model_max_length, Ccap = cfg.caption_channels;
  const int N = (S / cfg.patch_size) * (S / cfg.patch_size);
  cuda_reset_peak_memory();
  const double tl = now_s();
  DimbaModel model;
  {
    Checkpoint ck = bench::random_checkpoint(cfg, DType::BF16);
    model = DimbaModel::load(ck, cfg, DType::BF16, be);
  }
  const double load_s = now_s() - tl;
  const int lens[2] = {text_len, text_len};
  std::vector<float> y2(size_t(2) * L * Ccap);
  fill_normal(y2.data(), y2.size(), 31, 0);
  const size_t in_per = size_t(cfg.in_channels) * S * S, out_per = size_t(cfg.out_channels) * S * S;
  std::vector<float> t2(2);
  int calls = 0;
  GuidedModelFn<float> net = [&](const std::vector<float>& in2, double t_input, std::vector<float>& out2) {
    t2[0] = t2[1] = float(t_input);
    out2.resize(2 * out_per);
    model.forward(out2.data(), in2.data(), t2.data(), y2.data(), lens, 2, S, S, L);
    ++calls;
  };
  DenoiseFn denoise = make_cfg_denoiser<float>(net, 1, in_per, out_per, 4.5);
  const DiscreteVpSchedule& sched = DiscreteVpSchedule::dimba();
  auto one_image = [&](uint64_t seed) {
    std::vector<float> noise(in_per);
    fill_normal(noise.data(), in_per, seed, 0);
    std::vector<double> x(noise.begin(), noise.end());
    SamplerHooks h;
    h.denoise = denoise;
    run_sampler(SamplerKind::DpmSolverPP2M, sched, steps, x, h);
    return x;
  };
  // One forward alone (the first one grows the activation arena and the op scratch).
  std::vector<float> xin(2 * in_per), out2(2 * out_per);
  fill_normal(xin.data(), xin.size(), 5, 0);
  std::vector<double> fwd;
  for (int i = 0; i < 4; ++i) {
    const double t0 = now_s();
    net(xin, 500.0, out2);
    if (i > 0) fwd.push_back(now_s() - t0);
  }
  bench::profile_start();
  net(xin, 500.0, out2);
  const std::vector<bench::OpRow> forward_ops = bench::profile_stop();
  bool finite = true;
  for (float v : out2) finite = finite && std::isfinite(v);
  one_image(100);  // warm-up image
  std::vector<double> per_image;
  std::vector<double> last;
  for (int i = 0; i < images; ++i) {
    const double t0 = now_s();
    last = one_image(200 + uint64_t(i));
    per_image.push_back(now_s() - t0);
  }
  for (double v : last) finite = finite && std::isfinite(v);

  // The same loop with the forward replayed from a CUDA graph, as the pipeline runs it
  // (pipeline/graphed_forward.h: the text uploaded once, each image's graph captured after its
  // first step).
  std::vector<double> per_image_graph;
  double graph_diff = -1.0;
  {
    std::unique_ptr<GraphedForward> graphed;
    GuidedModelFn<float> gnet = [&](const std::vector<float>& in2, double t_input, std::vector<float>& o2) {
      t2[0] = t2[1] = float(t_input);
      o2.resize(2 * out_per);
      graphed->forward(o2.data(), in2.data(), t2.data());
    };
    // The graph's answer is the plain forward's, bit for bit (same kernels, same order): the
    // second call is the first replay.
    net(xin, 500.0, out2);
    graphed = GraphedForward::create(model, y2.data(), lens, S, S, L);
    std::vector<float> g2;
    gnet(xin, 500.0, g2);
    gnet(xin, 500.0, g2);
    graph_diff = 0.0;
    for (size_t i = 0; i < g2.size(); ++i) graph_diff = std::max(graph_diff, double(std::fabs(g2[i] - out2[i])));
    DenoiseFn gdenoise = make_cfg_denoiser<float>(gnet, 1, in_per, out_per, 4.5);
    for (int i = 0; i < images; ++i) {
      std::vector<float> noise(in_per);
      fill_normal(noise.data(), in_per, 200 + uint64_t(i), 0);
      std::vector<double> x(noise.begin(), noise.end());
      SamplerHooks hk;
      hk.denoise = gdenoise;
      const double t0 = now_s();
      graphed = GraphedForward::create(model, y2.data(), lens, S, S, L);
      run_sampler(SamplerKind::DpmSolverPP2M, sched, steps, x, hk);
      per_image_graph.push_back(now_s() - t0);
    }
  }
  const std::vector<int> lv = {text_len, text_len};
  const bench::Flops f = bench::count_flops(cfg, 2, N, L, lv);
  const double s_img = median(per_image), s_fwd = median(fwd);
  const double tflops = f.total() * steps / s_img / 1e12;
  const CudaMemoryStats m = cuda_memory_stats();
  rep.line("");
  rep.line("### Dimba-L/2 at %dpx (latent %dx%d, N = %d tokens, depth %d, bf16 weights, batch 2 through the model)",
           res, S, S, N, cfg.depth);
  rep.line("| measure | value |");
  rep.line("| --- | ---: |");
  rep.line("| seconds per image (%d steps DPM-Solver++ 2M, guidance 4.5; median of %d) | %.3f |", steps, images, s_img);
  rep.line("| seconds per image, forward replayed from a CUDA graph (median of %d) | %.3f |", images,
           median(per_image_graph));
  rep.line("| graph forward vs plain forward, max abs difference | %.3g |", graph_diff);
  rep.line("| seconds per forward (batch 2; median of 3) | %.4f |", s_fwd);
  rep.line("| forwards' share of the image time | %.0f%% |", 100.0 * s_fwd * steps / s_img);
  rep.line("| FLOPs per forward (linear / attention / scan, TFLOP) | %.2f / %.2f / %.3f |", f.linear / 1e12,
           f.attention / 1e12, f.scan / 1e12);
  const double tflops_graph = f.total() * steps / median(per_image_graph) / 1e12;
  rep.line("| achieved TFLOP/s over the denoising loop (plain / graph) | %.1f / %.1f |", tflops, tflops_graph);
  rep.line("| fraction of the card's bf16 matmul rate (%.0f TFLOP/s; plain / graph) | %.1f%% / %.1f%% |", card_tflops,
           100.0 * tflops / card_tflops, 100.0 * tflops_graph / card_tflops);
  rep.line("| peak memory through the backend (weights %.2f GiB + activations + scratch) | %.2f GiB |",
           gib(model.weight_bytes()), gib(m.peak_bytes));
  rep.line("| device memory used (cuBLAS, CUDA context included) | %.2f GiB |", gib(m.device_used));
  rep.line("| activation arena peak | %.2f GiB |", gib(model.arena_peak_bytes()));
  rep.line("| weights generated and uploaded in | %.1f s |", load_s);
  rep.line("| outputs finite | %s |", finite ? "yes" : "NO");
  (void)calls;
  rep.line("");
  for (const std::string& l : bench::profile_table("One forward", forward_ops, s_fwd)) rep.line("%s", l.c_str());
  if (ops) {
    rep.line("");
    op_table(rep, be, cfg, N, L, text_len, reps);
  }
  // Timings of wrong answers are no result: the run fails (main prints the error).
  if (!finite || graph_diff != 0.0)
    throw EngineError(ErrorCode::Internal, finite ? "the graph's forward differs from the plain forward"
                                                  : "the denoising loop produced non-finite values");
  return median(per_image_graph);
}

// The image's decode by the SDXL VAE (random bf16 weights of its real shapes), untiled as the
// pipeline decodes up to 1024px, from a random latent: seconds (median of up to 3, as many as
// reps allows, after a warm-up), and with the denoising loop's seconds (s_loop) the image's.
void bench_vae_decode(Report& rep, int res, int latent, double s_loop, int reps) {
  const Backend& be = cuda_backend();
  const VaeConfig vc = VaeConfig::sdxl();
  const int f = vc.downscale(), S = latent > 0 ? latent : res / f;
  cuda_reset_peak_memory();
  VaeModel vae = VaeModel::load(vae_random_checkpoint(vc, 41, DType::BF16), vc, DType::BF16, be);
  std::vector<float> z(size_t(vc.latent_channels) * S * S), image(size_t(vc.out_channels) * S * f * S * f);
  fill_normal(z.data(), z.size(), 43, 0);
  std::vector<double> ts;
  const int runs = std::min(reps, 3);
  for (int i = 0; i <= runs; ++i) {
    const double t0 = now_s();
    vae.decode(image.data(), z.data(), 1, S, S);
    if (i > 0) ts.push_back(now_s() - t0);
  }
  bool finite = true;
  for (float v : image) finite = finite && std::isfinite(v);
  const double s_dec = median(ts);
  rep.line("");
  rep.line("### SDXL VAE decode at %dpx (latent %dx%d, bf16 weights, untiled)", S * f, S, S);
  rep.line("| measure | value |");
  rep.line("| --- | ---: |");
  rep.line("| seconds per decode (median of %d after a warm-up) | %.3f |", runs, s_dec);
  rep.line("| seconds per image with the decode (the graph-replayed loop above + the decode) | %.3f |",
           s_loop + s_dec);
  rep.line("| peak memory through the backend (weights %.2f GiB + activations + scratch) | %.2f GiB |",
           gib(vae.weight_bytes()), gib(cuda_memory_stats().peak_bytes));
  rep.line("| output finite | %s |", finite ? "yes" : "NO");
  // The mid block's attention alone (one head of 512 over every latent pixel, the GEMM path in
  // either mode): on tensor cores beside the exact mode's f32 GEMMs.
  {
    const int T = S * S, C = vc.block_out_channels.back();
    DevBuf qkv(be, size_t(T) * 3 * C, 51, 0.05f), out(be, size_t(T) * C, 52);
    auto attend = [&] {
      be.attention_forward(out.p, qkv.p, qkv.p + C, qkv.p + 2 * C, nullptr, 1, T, T, 1, C, 3 * C, 3 * C, C);
    };
    const double flops = 4.0 * double(T) * T * C;
    const double t_wide = time_median(be, std::min(reps, 3), attend);
    const bool was = cuda_set_reduced_precision(false);
    const double t_exact = time_median(be, std::min(reps, 3), attend);
    cuda_set_reduced_precision(was);
    rep.line("| mid-block attention alone (%d tokens, one head of %d): GEMMs on tensor cores, ms (TFLOP/s) | %.3f "
             "(%.1f) |", T, C, 1e3 * t_wide, flops / t_wide / 1e12);
    rep.line("| the same in the exact mode (f32 GEMMs), ms (TFLOP/s) | %.3f (%.1f) |", 1e3 * t_exact,
             flops / t_exact / 1e12);
  }
  if (!finite) throw EngineError(ErrorCode::Internal, "the VAE decode produced non-finite values");
}

void bench_train(Report& rep, int latent, int text_len, int depth) {
  const Backend& be = bench::profiled(cuda_backend());
  DimbaConfig cfg = DimbaConfig::dimba_l_2(512);
  if (depth > 0) cfg.depth = depth;
  const int S = latent > 0 ? latent : 64, L = cfg.model_max_length;
  ParamSet params = [&] {
    Checkpoint ck = bench::random_checkpoint(cfg, DType::F32);
    return ParamSet::from_checkpoint(ck, cfg);
  }();
  LoraConfig lc;
  lc.rank = 16;
  Lora lora = Lora::create(params, lc, 7);
  cuda_reset_peak_memory();
  DimbaTrainer tr(cfg, params, &lora, 1.0, be);
  std::vector<float> x(size_t(cfg.in_channels) * S * S), y(size_t(L) * cfg.caption_channels),
      out(size_t(cfg.out_channels) * S * S), dout(out.size());
  fill_normal(x.data(), x.size(), 1, 0);
  fill_normal(y.data(), y.size(), 2, 0);
  fill_normal(dout.data(), dout.size(), 3, 0);
  for (float& v : dout) v *= 1e-3f;
  const float t = 500.0f;
  const int lens[1] = {text_len};
  std::vector<double> ts;
  for (int i = 0; i < 4; ++i) {
    const double t0 = now_s();
    tr.forward(out.data(), x.data(), &t, y.data(), lens, 1, S, S, L);
    tr.backward(dout.data());
    be.synchronize();
    if (i > 0) ts.push_back(now_s() - t0);
  }
  bench::profile_start();
  tr.forward(out.data(), x.data(), &t, y.data(), lens, 1, S, S, L);
  tr.backward(dout.data());
  const std::vector<bench::OpRow> step_ops = bench::profile_stop();
  const CudaMemoryStats m = cuda_memory_stats();
  rep.line("");
  rep.line("### LoRA training step at %dpx (rank 16, default targets, batch 1, f32 parameters, depth %d)", S * 8,
           cfg.depth);
  rep.line("| measure | value |");
  rep.line("| --- | ---: |");
  rep.line("| seconds per step (forward + backward; median of 3 after a warm-up) | %.3f |", median(ts));
  rep.line("| peak memory through the backend | %.2f GiB |", gib(m.peak_bytes));
  rep.line("| saved activations | %.2f GiB |", gib(tr.saved_activation_bytes()));
  rep.line("");
  for (const std::string& l : bench::profile_table("One training step", step_ops, median(ts)))
    rep.line("%s", l.c_str());
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(std::atoi(item.c_str()));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> res = {512, 1024};
  int steps = 20, images = 2, text_len = 120, depth = 0, probe = 8192, latent = 0, reps = 10;
  bool ops = true, train = false;
  std::string out_path;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--res" && i + 1 < argc) res = parse_list(argv[++i]);
    else if (a == "--steps" && i + 1 < argc) steps = std::atoi(argv[++i]);
    else if (a == "--images" && i + 1 < argc) images = std::atoi(argv[++i]);
    else if (a == "--text-len" && i + 1 < argc) text_len = std::atoi(argv[++i]);
    else if (a == "--depth" && i + 1 < argc) depth = std::atoi(argv[++i]);
    else if (a == "--no-ops") ops = false;
    else if (a == "--reps" && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (a == "--train") train = true;
    else if (a == "--probe" && i + 1 < argc) probe = std::atoi(argv[++i]);
    else if (a == "--latent" && i + 1 < argc) latent = std::atoi(argv[++i]);
    else if (a == "--out" && i + 1 < argc) out_path = argv[++i];
    else {
      std::fprintf(stderr, "usage: bench_cuda [--res 512,1024] [--steps 20] [--images 2] [--text-len 120] "
                           "[--depth D] [--no-ops] [--reps 10] [--train] [--probe 8192] [--latent S] [--out FILE]\n");
      return 2;
    }
  }
  if (steps < 1 || images < 1 || reps < 1 || text_len < 0 || text_len > 300 || probe < 16 || latent < 0 ||
      latent % 2) {
    std::fprintf(stderr, "bench_cuda: steps, images and reps >= 1, text-len 0..300, probe >= 16, latent even\n");
    return 2;
  }
  CudaDeviceInfo info;
  try {
    cuda_backend();
    info = cuda_device_info();
  } catch (const EngineError& e) {
    std::printf("SKIP bench_cuda: %s\n", e.what());
    return 77;
  }
  Report rep;
  try {
    rep.line("## CUDA backend: %s (sm_%d, %d SMs, %.0f GiB), %s", info.name.c_str(), info.sm, info.multiprocessors,
             gib(info.memory_bytes), info.cublas.c_str());
    cuda_set_reduced_precision(true);
    const double r32 = cuda_gemm_bf16_tflops(probe, 20, true), r16 = cuda_gemm_bf16_tflops(probe, 20, false);
    const double card = std::max(r32, r16);
    rep.line("");
    rep.line("card's bf16 matmul rate (cuBLAS %d^3, bf16 in, f32 accumulate): %.0f TFLOP/s with f32 output, %.0f "
             "with bf16 output",
             probe, r32, r16);
    for (int r : res) {
      const double s_loop = bench_resolution(rep, r, latent, steps, images, text_len, depth, card, ops, reps);
      bench_vae_decode(rep, r, latent, s_loop, reps);
    }
    if (train) bench_train(rep, latent, text_len, depth);
  } catch (const EngineError& e) {
    rep.line("FAILED: %s: %s", error_code_name(e.code), e.what());
    if (!out_path.empty()) {
      if (FILE* f = std::fopen(out_path.c_str(), "w")) {
        std::fputs(rep.md.str().c_str(), f);
        std::fclose(f);
      }
    }
    return 1;
  }
  if (!out_path.empty()) {
    FILE* f = std::fopen(out_path.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "bench_cuda: cannot write %s\n", out_path.c_str());
      return 1;
    }
    std::fputs(rep.md.str().c_str(), f);
    std::fclose(f);
  }
  return 0;
}
