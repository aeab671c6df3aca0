// CPU ops against naive float64 loops written straight from MODEL.md, on odd sizes (channel
// counts that are not multiples of the 16-wide groups, short and long sequences), including
// the reverse direction of the bidirectional Mamba against an explicit flip.
// defines: main (test_cpu_ops)
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "backend/cpu/fast_math.h"
#include "backend/cpu/ops.h"
#include "harness.h"

using namespace dimba;

namespace {
std::mt19937 rng(42);
std::vector<float> randn(size_t n, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
std::vector<float> to_f(const std::vector<double>& d) { return std::vector<float>(d.begin(), d.end()); }
double silu(double x) { return x / (1 + std::exp(-x)); }
}  // namespace

static void fast_exp_accuracy() {
  double worst = 0;
  for (float x = -87.0f; x < 88.0f; x += 0.001953125f) {
    double e = std::exp(double(x)), g = cpu::fast_expf(x);
    worst = std::max(worst, std::fabs(g - e) / e);
  }
  std::printf("    fast_expf worst rel err %.2e\n", worst);
  CHECK(worst < 5e-7);
  CHECK(cpu::fast_expf(-1000.0f) < 1e-37f && cpu::fast_expf(0.0f) == 1.0f);
}

// Naive scan of one direction on explicit (already flipped, if backward) sequences.
static std::vector<double> naive_scan(const std::vector<float>& u, const std::vector<float>& dl,
                                      const std::vector<float>& A, const std::vector<float>& xb,
                                      const std::vector<float>& Dk, const std::vector<float>& z, int T, int D,
                                      int N, int bcs, int boff, int coff) {
  std::vector<double> y(size_t(T) * D);
  for (int d = 0; d < D; ++d) {
    std::vector<double> s(N, 0.0);
    for (int t = 0; t < T; ++t) {
      double acc = 0;
      for (int n = 0; n < N; ++n) {
        s[n] = std::exp(double(dl[t * D + d]) * A[d * N + n]) * s[n] +
               double(dl[t * D + d]) * xb[t * bcs + boff + n] * u[t * D + d];
        acc += s[n] * xb[t * bcs + coff + n];
      }
      y[t * D + d] = (acc + double(Dk[d]) * u[t * D + d]) * silu(z[t * D + d]);
    }
  }
  return y;
}

template <class V>
static V flip_rows(const V& x, int T, int D) {
  V y(x.size());
  for (int t = 0; t < T; ++t) std::copy(x.begin() + t * D, x.begin() + (t + 1) * D, y.begin() + (T - 1 - t) * D);
  return y;
}

static void selective_scan_matches_naive() {
  for (int D : {16, 37, 64}) {
    const int T = 23, N = 16, R = 3, bcs = R + 2 * N;
    auto u = randn(size_t(T) * D), z = randn(size_t(T) * D), Dk = randn(D), xb = randn(size_t(T) * bcs);
    std::vector<float> dl(size_t(T) * D), A(size_t(D) * N);
    std::uniform_real_distribution<float> ud(0.001f, 2.0f), ua(-4.0f, 2.0f);
    for (auto& x : dl) x = ud(rng);
    for (auto& a : A) a = -std::exp(ua(rng));
    // forward
    std::vector<float> y(size_t(T) * D, 0.0f);
    cpu::selective_scan_forward(y.data(), u.data(), dl.data(), A.data(), xb.data() + R, xb.data() + R + N, Dk.data(),
                                z.data(), T, D, N, bcs, D, false, false, false);
    auto want = to_f(naive_scan(u, dl, A, xb, Dk, z, T, D, N, bcs, R, R + N));
    CHECK_REL(y.data(), want.data(), y.size(), 2e-6);
    // reverse + accumulate == y_fwd + flip(scan(flip(inputs)))
    cpu::selective_scan_forward(y.data(), u.data(), dl.data(), A.data(), xb.data() + R, xb.data() + R + N, Dk.data(),
                                z.data(), T, D, N, bcs, D, true, true, false);
    auto back = naive_scan(flip_rows(u, T, D), flip_rows(dl, T, D), A, flip_rows(xb, T, bcs), Dk, flip_rows(z, T, D),
                           T, D, N, bcs, R, R + N);
    auto back_f = flip_rows(back, T, D);
    for (size_t i = 0; i < want.size(); ++i) want[i] += float(back_f[i]);
    CHECK_REL(y.data(), want.data(), y.size(), 2e-6);
    // delta_softplus == the scan of softplus(delta): deltas around 0, both signs.
    std::vector<float> raw = randn(size_t(T) * D, 2.0f), sp(raw.size()), fused(y.size());
    cpu::softplus_forward(sp.data(), raw.data(), int64_t(sp.size()));
    cpu::selective_scan_forward(y.data(), u.data(), sp.data(), A.data(), xb.data() + R, xb.data() + R + N, Dk.data(),
                                z.data(), T, D, N, bcs, D, false, false, false);
    cpu::selective_scan_forward(fused.data(), u.data(), raw.data(), A.data(), xb.data() + R, xb.data() + R + N,
                                Dk.data(), z.data(), T, D, N, bcs, D, false, false, true);
    CHECK_REL(fused.data(), y.data(), y.size(), 1e-6);
  }
}

static void conv1d_causal_and_reverse() {
  const int T = 9, D = 5, K = 4, stride = 11;
  auto x = randn(size_t(T) * stride), w = randn(size_t(D) * K), b = randn(D);
  std::vector<float> out(size_t(T) * D), want(size_t(T) * D);
  cpu::conv1d_causal_depthwise_forward(out.data(), x.data(), w.data(), b.data(), T, D, K, stride, false);
  for (int t = 0; t < T; ++t)
    for (int d = 0; d < D; ++d) {
      double s = b[d];
      for (int k = 0; k < K; ++k)
        if (t + k - 3 >= 0) s += double(w[d * K + k]) * x[(t + k - 3) * stride + d];
      want[t * D + d] = float(s);
    }
  CHECK_REL(out.data(), want.data(), out.size(), 1e-6);
  cpu::conv1d_causal_depthwise_forward(out.data(), x.data(), w.data(), b.data(), T, D, K, stride, true);
  for (int t = 0; t < T; ++t)  // flip, convolve, flip back
    for (int d = 0; d < D; ++d) {
      int tf = T - 1 - t;
      double s = b[d];
      for (int k = 0; k < K; ++k)
        if (tf + k - 3 >= 0) s += double(w[d * K + k]) * x[(T - 1 - (tf + k - 3)) * stride + d];
      want[t * D + d] = float(s);
    }
  CHECK_REL(out.data(), want.data(), out.size(), 1e-6);
}

static void attention_with_key_lengths() {
  const int B = 3, Tq = 7, Tk = 5, H = 2, hd = 4, C = H * hd;
  auto q = randn(size_t(B) * Tq * 3 * C), kv = randn(size_t(B) * Tk * 2 * C);
  const int lens[B] = {5, 2, 0};
  std::vector<float> out(size_t(B) * Tq * C, 7.0f), want(out.size(), 0.0f);
  cpu::attention_forward(out.data(), q.data(), kv.data(), kv.data() + C, lens, B, Tq, Tk, H, hd, 3 * C, 2 * C, C);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int t = 0; t < Tq; ++t) {
        std::vector<double> s(lens[b]);
        double m = -1e300, sum = 0;
        for (int j = 0; j < lens[b]; ++j) {
          double a = 0;
          for (int i = 0; i < hd; ++i)
            a += double(q[(b * Tq + t) * 3 * C + h * hd + i]) * kv[(b * Tk + j) * 2 * C + h * hd + i];
          s[j] = a / std::sqrt(double(hd));
          m = std::max(m, s[j]);
        }
        for (auto& x : s) sum += (x = std::exp(x - m));
        for (int i = 0; i < hd; ++i) {
          double o = 0;
          for (int j = 0; j < lens[b]; ++j) o += s[j] / sum * kv[(b * Tk + j) * 2 * C + C + h * hd + i];
          want[(b * Tq + t) * C + h * hd + i] = float(o);
        }
      }
  CHECK_REL(out.data(), want.data(), out.size(), 1e-6);
}

static void norms_match_double() {
  const int rows = 5, C = 33;
  auto x = randn(size_t(rows) * C, 3.0f), w = randn(C);
  for (int i = 0; i < C; ++i) x[i] += 100.0f;  // a large-mean row
  std::vector<float> ln(x.size()), rms(x.size()), wl(x.size()), wr(x.size());
  cpu::layernorm_forward(ln.data(), nullptr, nullptr, x.data(), nullptr, nullptr, rows, C, 1e-6f);
  cpu::rmsnorm_forward(rms.data(), nullptr, x.data(), w.data(), rows, C, 1e-5f);
  for (int r = 0; r < rows; ++r) {
    double m = 0, v = 0, ss = 0;
    for (int i = 0; i < C; ++i) { m += x[r * C + i]; ss += double(x[r * C + i]) * x[r * C + i]; }
    m /= C;
    for (int i = 0; i < C; ++i) v += (x[r * C + i] - m) * (x[r * C + i] - m);
    for (int i = 0; i < C; ++i) {
      wl[r * C + i] = float((x[r * C + i] - m) / std::sqrt(v / C + 1e-6));
      wr[r * C + i] = float(x[r * C + i] / std::sqrt(ss / C + 1e-5) * w[i]);
    }
  }
  CHECK_REL(ln.data(), wl.data(), ln.size(), 1e-6);
  CHECK_REL(rms.data(), wr.data(), rms.size(), 1e-6);
}

static void patchify_roundtrip_and_pos_embed() {
  // Patch embedding with an identity kernel followed by unpatchify is a permutation whose
  // inverse must give back the image (Cin*p*p == C, out channels == Cin).
  const int B = 2, Cin = 3, H = 4, W = 6, p = 2, K = Cin * p * p;
  auto img = randn(size_t(B) * Cin * H * W);
  std::vector<float> eye(size_t(K) * K, 0.0f);
  for (int i = 0; i < K; ++i) eye[i * K + i] = 1.0f;
  std::vector<float> tok(size_t(B) * (H / p) * (W / p) * K), back(img.size());
  cpu::patch_embed_forward(tok.data(), img.data(), eye.data(), DType::F32, nullptr, B, Cin, H, W, p, K);
  // token feature (c, a, bb) -> unpatchify wants (a, bb, c)
  std::vector<float> perm(tok.size());
  for (size_t t = 0; t < tok.size() / K; ++t)
    for (int c = 0; c < Cin; ++c)
      for (int a = 0; a < p * p; ++a) perm[t * K + a * Cin + c] = tok[t * K + c * p * p + a];
  cpu::unpatchify_forward(back.data(), perm.data(), B, Cin, H / p, W / p, p);
  CHECK(back == img);
  // Quirk: column coordinate in the first half. Token (0, 1) differs from (0, 0) there only.
  const int C = 8, h = 2, w = 3;
  std::vector<float> pe(size_t(h) * w * C);
  cpu::sincos_pos_embed_2d(pe.data(), C, h, w, 2.0, 1.0);
  CHECK(pe[1 * C + 0] != 0.0f && pe[1 * C + C / 2] == 0.0f);          // (0,1): sin(gw) first
  CHECK(pe[w * C + 0] == 0.0f && pe[w * C + C / 2] != 0.0f);          // (1,0): sin(gh) second
  CHECK(std::fabs(pe[1 * C + 0] - float(std::sin(1.0 / 1.5))) < 1e-7f); // gw[1] = 1/(3/2)
}

static void activations_match_double() {
  std::vector<float> x;
  for (float v = -60.0f; v <= 60.0f; v += 0.01171875f) x.push_back(v);
  for (float v : {1e-9f, -1e-9f, 1e-5f, -1e-5f, 0.0f, 19.99f, 20.01f, -88.5f, -300.0f}) x.push_back(v);
  const size_t n = x.size();
  std::vector<float> g(n), s(n), sp(n), wg(n), ws(n), wsp(n);
  cpu::gelu_tanh_forward(g.data(), x.data(), int64_t(n));
  cpu::silu_forward(s.data(), x.data(), int64_t(n));
  cpu::softplus_forward(sp.data(), x.data(), int64_t(n));
  double worst_sp = 0;
  for (size_t i = 0; i < n; ++i) {
    double v = x[i];
    wg[i] = float(0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))));
    ws[i] = float(v / (1 + std::exp(-v)));
    double want = v > 20 ? v : std::log1p(std::exp(v));
    wsp[i] = float(want);
    if (want > 1e-30) worst_sp = std::max(worst_sp, std::fabs(sp[i] - want) / want);
  }
  CHECK_REL(g.data(), wg.data(), n, 1e-6);
  CHECK_REL(s.data(), ws.data(), n, 1e-6);
  CHECK_REL(sp.data(), wsp.data(), n, 1e-6);
  std::printf("    softplus worst pointwise rel err %.2e\n", worst_sp);
  CHECK(worst_sp < 1e-6);
}

int main() {
  RUN(activations_match_double);
  RUN(fast_exp_accuracy);
  RUN(selective_scan_matches_naive);
  RUN(conv1d_causal_and_reverse);
  RUN(attention_with_key_lengths);
  RUN(norms_match_double);
  RUN(patchify_roundtrip_and_pos_embed);
  return harness::summary();
}
