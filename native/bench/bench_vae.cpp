// The SDXL VAE on this CPU, with random weights of the real shapes (vae_random_checkpoint):
// decode seconds and peak resident memory, tiled and untiled, at 512px (64x64 latent) and
// 1024px (128x128 latent); the tiling error against untiled and the seam measure on the
// SDXL-shaped VAE; and how much of a conv is im2col rather than GEMM.
//
//   bench_vae                       every configuration, each in its own process (clean peaks)
//   bench_vae decode LATENT tiled|untiled [--tile T --overlap O] [--f32]
//   bench_vae tiling LATENT [--tile T --overlap O]   tiled vs untiled error and seam (decode, encode)
//   bench_vae conv                  conv2d_forward vs its GEMM alone, SDXL decoder shapes
// Weights are bf16 unless --f32. Peak memory is getrusage's ru_maxrss of the process, which
// includes the weights (and, while loading, the random checkpoint they are made from, in the
// same dtype); "after load" is the resident size just before decoding.
// defines: main (bench_vae)
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "core/rng.h"
#include "models/vae.h"

using namespace dimba;

static double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
static double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // KiB on Linux
}
static double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1e-6 * double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}
static double current_rss_mb() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return double(resident) * 4096.0 / 1048576.0;
}
static double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  double n = 0, d = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    n += double(a[i] - b[i]) * (a[i] - b[i]);
    d += double(b[i]) * b[i];
  }
  return std::sqrt(n / d);
}

static VaeModel sdxl_random(DType dt) {
  const VaeConfig cfg = VaeConfig::sdxl();
  return VaeModel::load(vae_random_checkpoint(cfg, 2024, dt), cfg, dt);
}

// A latent with large-scale structure (waves) plus noise, at the scale of real VAE latents
// (unscaled SDXL latents have a std of several units).
static std::vector<float> test_latent(int h, int w) {
  std::vector<float> z(size_t(4) * h * w);
  fill_normal(z.data(), z.size(), 7);
  for (int c = 0; c < 4; ++c)
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j) {
        float& v = z[(size_t(c) * h + i) * w + j];
        v = float(3.0 * std::sin(0.11 * i + c) + 3.0 * std::cos(0.07 * j - c) + v);
      }
  return z;
}

static int run_decode(int latent, bool tiled, VaeTiling tiling, DType dt) {
  VaeModel vae = sdxl_random(dt);
  const std::vector<float> z = test_latent(latent, latent);
  std::vector<float> img(size_t(3) * latent * 8 * latent * 8);
  const double rss_loaded = current_rss_mb();
  const double t0 = now(), c0 = cpu_seconds();
  if (tiled)
    vae.decode_tiled(img.data(), z.data(), 1, latent, latent, tiling);
  else
    vae.decode(img.data(), z.data(), 1, latent, latent);
  const double secs = now() - t0, cpu = cpu_seconds() - c0;
  double s = 0;
  for (float v : img) s += v;
  std::printf("decode %4dpx latent %3d %-8s %-4s tile %2d overlap %2d: %7.2f s (CPU %7.2f s), RSS after load %4.0f MB, peak RSS %6.0f MB, arena peak %6.0f MB,"
              " weights %4.0f MB (checksum %.3e)\n",
              latent * 8, latent, tiled ? "tiled" : "untiled", dtype_name(dt), tiled ? tiling.tile : 0,
              tiled ? tiling.overlap : 0, secs, cpu, rss_loaded, peak_rss_mb(), vae.arena_peak_bytes() / 1048576.0,
              vae.weight_bytes() / 1048576.0, s);
  return 0;
}

static int run_tiling(int latent, VaeTiling tiling, DType dt) {
  VaeModel vae = sdxl_random(dt);
  const int h = latent, w = latent, H = h * 8, W = w * 8;
  const std::vector<float> z = test_latent(h, w);
  std::vector<float> full(size_t(3) * H * W), tiled(full.size());
  double t0 = now();
  vae.decode(full.data(), z.data(), 1, h, w);
  std::printf("SDXL-shaped decode, latent %dx%d (%dpx), untiled: %.2f s\n", h, w, H, now() - t0);
  const VaeSeamStats su = vae_seam_stats(full.data(), 3, h, w, 8, tiling);
  for (int whole = 1; whole >= 0; --whole) {
    tiling.whole_latent_blocks = whole == 1;
    t0 = now();
    vae.decode_tiled(tiled.data(), z.data(), 1, h, w, tiling);
    const double secs = now() - t0;
    const VaeSeamStats st = vae_seam_stats(tiled.data(), 3, h, w, 8, tiling);
    double max_abs = 0;
    for (size_t i = 0; i < full.size(); ++i) max_abs = std::max(max_abs, double(std::fabs(tiled[i] - full[i])));
    std::printf("  decode tile %d overlap %d whole_latent_blocks %d: %.2f s, rel_l2 %.3e, max|diff| %.3e;"
                " seam border %.4f interior %.4f (untiled: border %.4f interior %.4f)\n",
                tiling.tile, tiling.overlap, whole, secs, rel_l2(tiled, full), max_abs, st.border, st.interior,
                su.border, su.interior);
  }
  // Encode the untiled decode back (an image in about [-1, 1] with structure).
  for (float& v : full) v = std::tanh(v);
  const size_t n = size_t(4) * h * w;
  std::vector<float> m(n), s(n), mt(n), stt(n);
  t0 = now();
  vae.encode(m.data(), s.data(), full.data(), 1, H, W);
  std::printf("SDXL-shaped encode, %dx%d image, untiled: %.2f s\n", H, W, now() - t0);
  for (int whole = 1; whole >= 0; --whole) {
    tiling.whole_latent_blocks = whole == 1;
    t0 = now();
    vae.encode_tiled(mt.data(), stt.data(), full.data(), 1, H, W, tiling);
    std::printf("  encode tile %d overlap %d whole_latent_blocks %d: %.2f s, mean rel_l2 %.3e, std rel_l2 %.3e\n",
                tiling.tile, tiling.overlap, whole, now() - t0, rel_l2(mt, m), rel_l2(stt, s));
  }
  return 0;
}

// conv2d_forward against the GEMM it runs (linear_forward over the same panel-sized bands of
// a prebuilt matrix): the difference is im2col and band overhead. Timed in process CPU
// seconds, since the build machine's one core is shared and wall time says more about the
// neighbours than about the code. The band size must match conv2d.cpp's panel rule.
static int run_conv(DType dt) {
  struct Shape { int H, W, C; };
  const Shape shapes[] = {{128, 128, 512}, {256, 256, 256}, {512, 512, 128}};
  for (const Shape& s : shapes) {
    const int K = 9 * s.C;
    std::vector<float> x(size_t(s.H) * s.W * s.C), w(size_t(s.C) * K), b(size_t(s.C)), y(size_t(s.H) * s.W * s.C);
    fill_normal(x.data(), x.size(), 1);
    fill_normal(w.data(), w.size(), 2);
    Tensor wt = to_dtype(Tensor::view(w.data(), DType::F32, {int64_t(w.size())}), dt);
    const double t0 = cpu_seconds();
    cpu_backend().conv2d_forward(y.data(), x.data(), wt.data, dt, b.data(), 1, s.H, s.W, s.C, s.C, 3, 1, 1, 1, 1, 1,
                                 false);
    const double tc = cpu_seconds() - t0;
    // The same GEMM work: bands of the panel size conv2d uses (2 MiB of f32 rows, >= 256 rows).
    const int64_t npix = int64_t(s.H) * s.W, rows =
        std::min<int64_t>(npix, std::max<int64_t>(256, (int64_t(2) << 20) / (int64_t(K) * 4)));  // conv2d.cpp's rule
    std::vector<float> panel(size_t(rows) * K);
    fill_normal(panel.data(), panel.size(), 3);
    const double t1 = cpu_seconds();
    for (int64_t p0 = 0; p0 < npix; p0 += rows)
      cpu_backend().linear_forward(y.data() + p0 * s.C, panel.data(), wt.data, dt, b.data(),
                                   int(std::min(rows, npix - p0)), K, s.C, false);
    const double tg = cpu_seconds() - t1;
    const double gflop = 2.0 * npix * K * s.C / 1e9;
    std::printf("conv3x3 %dx%dx%d (%s, CPU seconds): conv2d %.3f s (%.1f GFLOP/s), GEMM alone %.3f s (%.1f GFLOP/s): "
                "im2col share %.1f%%\n",
                s.H, s.W, s.C, dtype_name(dt), tc, gflop / tc, tg, gflop / tg, 100.0 * (tc - tg) / tc);
  }
  return 0;
}

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  DType dt = DType::BF16;
  VaeTiling tiling;
  std::vector<std::string> pos;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == "--f32") dt = DType::F32;
    else if (a[i] == "--tile" && i + 1 < a.size()) tiling.tile = std::atoi(a[++i].c_str());
    else if (a[i] == "--overlap" && i + 1 < a.size()) tiling.overlap = std::atoi(a[++i].c_str());
    else pos.push_back(a[i]);
  }
  if (pos.size() >= 3 && pos[0] == "decode") return run_decode(std::atoi(pos[1].c_str()), pos[2] == "tiled", tiling, dt);
  if (pos.size() >= 2 && pos[0] == "tiling") return run_tiling(std::atoi(pos[1].c_str()), tiling, dt);
  if (!pos.empty() && pos[0] == "conv") return run_conv(dt);
  if (!pos.empty()) {
    std::fprintf(stderr, "usage: bench_vae [decode LATENT tiled|untiled | tiling LATENT | conv] [--tile T] "
                         "[--overlap O] [--f32]\n");
    return 2;
  }
  // Everything, each decode in its own process so that every peak RSS is its own.
  const std::string self = argv[0];
  const char* runs[] = {"conv",
                        "decode 64 untiled",
                        "decode 64 tiled --tile 32 --overlap 8",
                        "decode 128 untiled",
                        "decode 128 tiled --tile 64 --overlap 16",  // VaeTiling{}'s default
                        "tiling 48 --tile 32 --overlap 8"};
  int rc = 0;
  for (const char* r : runs) {
    std::fflush(stdout);
    rc |= std::system((self + " " + r).c_str());
  }
  return rc == 0 ? 0 : 1;
}
