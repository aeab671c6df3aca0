// Every backward op of the CPU backend (backend/cpu/*.cpp, `*_backward`) against central
// finite differences of its forward: with a fixed random w, L(inputs) = sum_i w_i out_i
// (accumulated in double), the backward is called with dout = w and each input's gradient
// is compared, element by element, with (L(x + h e_j) - L(x - h e_j)) / 2h. Sizes are
// awkward on purpose (not multiples of 16 or of the tile sizes, ragged key lengths, a sample
// with no keys, a scan width that exercises both the 16-channel groups and the tail).
// Prints the relative L2 error and the worst element's relative error per gradient.
// defines: main (test_backward_ops)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"
#include "harness.h"

using namespace dimba;
using namespace dimba::cpu;

namespace {

using Vec = std::vector<float>;

std::mt19937 rng(1234);

Vec randn(size_t n, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  Vec v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

Vec uniform(size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  Vec v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Input {
  const char* name;
  Vec* x;        // the forward input (perturbed in place)
  const Vec* g;  // its analytic gradient from the backward op
};

// Compares each input's analytic gradient with central differences of L = <w, fwd()>.
void fd_check(const char* op, const std::vector<Input>& inputs, const std::function<Vec()>& fwd, const Vec& w,
              float h, double tol) {
  auto loss = [&]() {
    Vec out = fwd();
    double s = 0.0;
    for (size_t i = 0; i < out.size(); ++i) s += double(w[i]) * out[i];
    return s;
  };
  for (const Input& in : inputs) {
    Vec num(in.x->size());
    for (size_t j = 0; j < in.x->size(); ++j) {
      const float v = (*in.x)[j];
      (*in.x)[j] = v + h;
      const double lp = loss();
      (*in.x)[j] = v - h;
      const double lm = loss();
      (*in.x)[j] = v;
      num[j] = float((lp - lm) / (2.0 * double(h)));
    }
    double scale = 0.0, worst = 0.0;
    for (float x : num) scale = std::max(scale, double(std::fabs(x)));
    for (size_t j = 0; j < num.size(); ++j)
      worst = std::max(worst, std::fabs(double((*in.g)[j]) - num[j]) /
                                  (std::fabs(double(num[j])) + 1e-2 * scale + 1e-12));
    const double rel = harness::rel_l2(in.g->data(), num.data(), num.size());
    std::printf("    %-28s d%-8s rel_l2 %.2e  worst elem rel %.2e (tol %.0e)\n", op, in.name, rel, worst, tol);
    if (!(rel <= tol)) harness::fail(__FILE__, __LINE__, std::string(op) + " d" + in.name);
  }
}

void linear() {
  const int M = 5, K = 7, N = 3;
  Vec x = randn(size_t(M) * K), W = randn(size_t(N) * K), b = randn(N), w = randn(size_t(M) * N);
  Vec dx(x.size(), 0.0f), dW(W.size(), 0.0f), db(b.size(), 0.0f);
  linear_backward(dx.data(), dW.data(), db.data(), w.data(), x.data(), W.data(), M, K, N);
  fd_check("linear", {{"x", &x, &dx}, {"W", &W, &dW}, {"b", &b, &db}}, [&] {
    Vec y(size_t(M) * N);
    linear_forward(y.data(), x.data(), W.data(), DType::F32, b.data(), M, K, N);
    return y;
  }, w, 1e-2f, 3e-4);
}

void layernorm() {
  const int rows = 5, C = 11;
  for (bool affine : {false, true}) {
    Vec x = randn(size_t(rows) * C, 2.0f), wt = randn(C), bs = randn(C), w = randn(size_t(rows) * C);
    for (int r = 0; r < rows; ++r) x[size_t(r) * C] += 3.0f;  // a row mean away from 0
    Vec mean(rows), rstd(rows), out(x.size());
    layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), affine ? wt.data() : nullptr,
                      affine ? bs.data() : nullptr, rows, C, 1e-6f);
    Vec dx(x.size(), 0.0f), dw(C, 0.0f), db(C, 0.0f);
    layernorm_backward(dx.data(), affine ? dw.data() : nullptr, affine ? db.data() : nullptr, w.data(), x.data(),
                       affine ? wt.data() : nullptr, mean.data(), rstd.data(), rows, C);
    std::vector<Input> ins = {{"x", &x, &dx}};
    if (affine) {
      ins.push_back({"weight", &wt, &dw});
      ins.push_back({"bias", &bs, &db});
    }
    fd_check(affine ? "layernorm (affine)" : "layernorm", ins, [&] {
      Vec o(x.size());
      layernorm_forward(o.data(), nullptr, nullptr, x.data(), affine ? wt.data() : nullptr,
                        affine ? bs.data() : nullptr, rows, C, 1e-6f);
      return o;
    }, w, 1e-2f, 3e-4);
  }
}

void rmsnorm() {
  const int rows = 6, C = 9;
  Vec x = randn(size_t(rows) * C, 1.5f), wt = randn(C), w = randn(size_t(rows) * C);
  Vec rstd(rows), out(x.size());
  rmsnorm_forward(out.data(), rstd.data(), x.data(), wt.data(), rows, C, 1e-5f);
  Vec dx(x.size(), 0.0f), dw(C, 0.0f);
  rmsnorm_backward(dx.data(), dw.data(), w.data(), x.data(), wt.data(), rstd.data(), rows, C);
  fd_check("rmsnorm", {{"x", &x, &dx}, {"weight", &wt, &dw}}, [&] {
    Vec o(x.size());
    rmsnorm_forward(o.data(), nullptr, x.data(), wt.data(), rows, C, 1e-5f);
    return o;
  }, w, 1e-2f, 3e-4);
}

void modulate_and_gate() {
  const int B = 2, T = 5, C = 7;
  const int64_t stride = 6 * C;  // shift/scale/gate rows inside a [B, 6, C] table
  Vec x = randn(size_t(B) * T * C), table = randn(size_t(B) * 6 * C, 0.5f), w = randn(x.size());
  Vec dx(x.size(), 0.0f), dtable(table.size(), 0.0f);
  modulate_backward(dx.data(), dtable.data() + C, dtable.data() + 4 * C, w.data(), x.data(), table.data() + 4 * C, B,
                    T, C, stride);
  fd_check("modulate", {{"x", &x, &dx}, {"table", &table, &dtable}}, [&] {
    Vec o(x.size());
    modulate_forward(o.data(), x.data(), table.data() + C, table.data() + 4 * C, B, T, C, stride);
    return o;
  }, w, 1e-2f, 3e-4);

  Vec base = randn(x.size()), y = randn(x.size());
  Vec dbase(x.size(), 0.0f), dy(x.size(), 0.0f), dtab2(table.size(), 0.0f);
  add_backward(dbase.data(), nullptr, w.data(), int64_t(x.size()));  // x passes through
  gated_residual_backward(dy.data(), dtab2.data() + 2 * C, w.data(), y.data(), table.data() + 2 * C, B, T, C, stride);
  fd_check("gated_residual", {{"x", &base, &dbase}, {"y", &y, &dy}, {"table", &table, &dtab2}}, [&] {
    Vec o = base;
    gated_residual_forward(o.data(), y.data(), table.data() + 2 * C, B, T, C, stride);
    return o;
  }, w, 1e-2f, 3e-4);
}

void activations() {
  const int n = 37;
  Vec x = uniform(n, -4.0f, 4.0f);
  x[3] = 25.0f;  // softplus passes x through above 20
  x[4] = 0.0f;
  Vec w = randn(n);
  struct Act {
    const char* name;
    void (*fwd)(float*, const float*, int64_t);
    void (*bwd)(float*, const float*, const float*, int64_t);
  };
  for (Act a : {Act{"gelu_tanh", gelu_tanh_forward, gelu_tanh_backward}, Act{"silu", silu_forward, silu_backward},
                Act{"softplus", softplus_forward, softplus_backward}}) {
    Vec dx(n, 0.0f);
    a.bwd(dx.data(), w.data(), x.data(), n);
    fd_check(a.name, {{"x", &x, &dx}}, [&] {
      Vec o(n);
      a.fwd(o.data(), x.data(), n);
      return o;
    }, w, 1e-2f, 3e-4);
  }
  const int rows = 4, C = 5;
  Vec a = randn(size_t(rows) * C), row = randn(C), w2 = randn(size_t(rows) * C);
  Vec da(a.size(), 0.0f), drow(C, 0.0f);
  add_row_backward(da.data(), drow.data(), w2.data(), rows, C);
  fd_check("add_row", {{"a", &a, &da}, {"row", &row, &drow}}, [&] {
    Vec o(a.size());
    add_row_forward(o.data(), a.data(), row.data(), rows, C);
    return o;
  }, w2, 1e-2f, 3e-4);
}

// The activations' derivatives (fast_expf in float) against their formulas in double,
// densely over [-30, 30] and at the limits, with a tight bound (finite differences above
// cannot see an error of 1e-4); the error is taken relative to |f'| + 1e-3 because silu' and
// gelu' cross zero, where float cancellation leaves an absolute error.
void activation_derivatives_exact() {
  const int n = 6001;
  Vec x(n), ones(n, 1.0f);
  for (int i = 0; i < n; ++i) x[size_t(i)] = -30.0f + 0.01f * float(i);
  x[0] = -1e4f, x[1] = 1e4f, x[2] = 20.0f, x[3] = 20.001f;
  struct Case {
    const char* name;
    void (*bwd)(float*, const float*, const float*, int64_t);
    double (*exact)(double);
  };
  for (Case c : {Case{"gelu_tanh", gelu_tanh_backward,
                      [](double v) {
                        const double th = std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v));
                        return 0.5 * (1.0 + th) +
                               0.5 * v * (1.0 - th * th) * 0.7978845608028654 * (1.0 + 3.0 * 0.044715 * v * v);
                      }},
                 Case{"silu", silu_backward,
                      [](double v) {
                        const double s = 1.0 / (1.0 + std::exp(-v));
                        return s * (1.0 + v * (1.0 - s));
                      }},
                 Case{"softplus", softplus_backward,
                      [](double v) { return v > 20.0 ? 1.0 : 1.0 / (1.0 + std::exp(-v)); }}}) {
    Vec d(n, 0.0f);
    c.bwd(d.data(), ones.data(), x.data(), n);
    double worst = 0.0;
    for (int i = 0; i < n; ++i) {
      const double want = c.exact(double(x[size_t(i)]));
      worst = std::max(worst, std::fabs(double(d[size_t(i)]) - want) / (std::fabs(want) + 1e-3));
    }
    std::printf("  %s' worst relative error %.2e\n", c.name, worst);
    if (!(worst <= 2e-5)) harness::fail(__FILE__, __LINE__, std::string(c.name) + "' is off its double formula");
  }
}

void attention_self() {
  const int B = 2, T = 7, H = 3, hd = 5, C = H * hd;
  Vec qkv = randn(size_t(B) * T * 3 * C), w = randn(size_t(B) * T * C);
  Vec dqkv(qkv.size(), 0.0f);
  attention_backward(dqkv.data(), dqkv.data() + C, dqkv.data() + 2 * C, w.data(), qkv.data(), qkv.data() + C,
                     qkv.data() + 2 * C, nullptr, B, T, T, H, hd, 3 * C, 3 * C, C);
  fd_check("attention (self, packed)", {{"qkv", &qkv, &dqkv}}, [&] {
    Vec o(size_t(B) * T * C);
    attention_forward(o.data(), qkv.data(), qkv.data() + C, qkv.data() + 2 * C, nullptr, B, T, T, H, hd, 3 * C,
                      3 * C, C);
    return o;
  }, w, 1e-2f, 3e-4);
}

void attention_cross() {
  const int B = 3, Tq = 6, Tk = 5, H = 2, hd = 3, C = H * hd;
  const int lens[3] = {3, 5, 0};  // ragged text lengths, and a sample with no keys
  Vec q = randn(size_t(B) * Tq * C), kv = randn(size_t(B) * Tk * 2 * C), w = randn(size_t(B) * Tq * C);
  Vec dq(q.size(), 0.0f), dkv(kv.size(), 0.0f);
  attention_backward(dq.data(), dkv.data(), dkv.data() + C, w.data(), q.data(), kv.data(), kv.data() + C, lens, B,
                     Tq, Tk, H, hd, C, 2 * C, C);
  fd_check("attention (cross, k_lens)", {{"q", &q, &dq}, {"kv", &kv, &dkv}}, [&] {
    Vec o(size_t(B) * Tq * C);
    attention_forward(o.data(), q.data(), kv.data(), kv.data() + C, lens, B, Tq, Tk, H, hd, C, 2 * C, C);
    return o;
  }, w, 1e-2f, 3e-4);
}

void conv1d() {
  const int T = 7, D = 5, K = 4;
  for (bool reverse : {false, true}) {
    Vec xz = randn(size_t(T) * 2 * D), wt = randn(size_t(D) * K), bs = randn(D), w = randn(size_t(T) * D);
    Vec dxz(xz.size(), 0.0f), dw(wt.size(), 0.0f), db(D, 0.0f);
    conv1d_causal_depthwise_backward(dxz.data(), dw.data(), db.data(), w.data(), xz.data(), wt.data(), T, D, K, 2 * D,
                                     reverse);
    fd_check(reverse ? "conv1d (reverse)" : "conv1d", {{"x", &xz, &dxz}, {"weight", &wt, &dw}, {"bias", &bs, &db}},
             [&] {
               Vec o(size_t(T) * D);
               conv1d_causal_depthwise_forward(o.data(), xz.data(), wt.data(), bs.data(), T, D, K, 2 * D, reverse);
               return o;
             },
             w, 1e-2f, 3e-4);
  }
}

void selective_scan() {
  const int T = 9, D = 19, N = 5, R = 2, xs = R + 2 * N;  // D: one 16-group + a 3-channel tail
  for (bool reverse : {false, true}) {
    Vec u = randn(size_t(T) * D), delta = uniform(size_t(T) * D, 0.1f, 1.0f);
    Vec A = uniform(size_t(D) * N, -1.5f, -0.2f), xdbl = randn(size_t(T) * xs), Dsk = randn(D);
    Vec xz = randn(size_t(T) * 2 * D), w = randn(size_t(T) * D);
    Vec du(u.size(), 0.0f), ddelta(delta.size(), 0.0f), dA(A.size(), 0.0f), dxdbl(xdbl.size(), 0.0f),
        dD(D, 0.0f), dxz(xz.size(), 0.0f);
    selective_scan_backward(du.data(), ddelta.data(), dA.data(), dxdbl.data() + R, dxdbl.data() + R + N, dD.data(),
                            dxz.data() + D, w.data(), u.data(), delta.data(), A.data(), xdbl.data() + R,
                            xdbl.data() + R + N, Dsk.data(), xz.data() + D, T, D, N, xs, 2 * D, xs, 2 * D, reverse);
    fd_check(reverse ? "selective_scan (reverse)" : "selective_scan",
             {{"u", &u, &du},
              {"delta", &delta, &ddelta},
              {"A", &A, &dA},
              {"xdbl(B,C)", &xdbl, &dxdbl},
              {"Dskip", &Dsk, &dD},
              {"xz(z)", &xz, &dxz}},
             [&] {
               Vec y(size_t(T) * D);
               selective_scan_forward(y.data(), u.data(), delta.data(), A.data(), xdbl.data() + R,
                                      xdbl.data() + R + N, Dsk.data(), xz.data() + D, T, D, N, xs, 2 * D, reverse,
                                      false, false);
               return y;
             },
             w, 1e-2f, 3e-4);
  }
}

void patch_and_unpatchify() {
  const int B = 2, Cin = 3, H = 4, W = 6, p = 2, C = 5, h = H / p, wd = W / p;
  Vec img = randn(size_t(B) * Cin * H * W), wt = randn(size_t(C) * Cin * p * p), bs = randn(C);
  Vec w = randn(size_t(B) * h * wd * C);
  Vec dimg(img.size(), 0.0f), dw(wt.size(), 0.0f), db(C, 0.0f);
  patch_embed_backward(dimg.data(), dw.data(), db.data(), w.data(), img.data(), wt.data(), B, Cin, H, W, p, C);
  fd_check("patch_embed", {{"img", &img, &dimg}, {"weight", &wt, &dw}, {"bias", &bs, &db}}, [&] {
    Vec o(w.size());
    patch_embed_forward(o.data(), img.data(), wt.data(), DType::F32, bs.data(), B, Cin, H, W, p, C);
    return o;
  }, w, 1e-2f, 3e-4);

  const int Cout = 3;
  Vec tok = randn(size_t(B) * h * wd * p * p * Cout), w2 = randn(size_t(B) * Cout * H * W);
  Vec dtok(tok.size(), 0.0f);
  unpatchify_backward(dtok.data(), w2.data(), B, Cout, h, wd, p);
  fd_check("unpatchify", {{"tokens", &tok, &dtok}}, [&] {
    Vec o(w2.size());
    unpatchify_forward(o.data(), tok.data(), B, Cout, h, wd, p);
    return o;
  }, w2, 1e-2f, 3e-4);
}

}  // namespace

int main() {
  RUN(linear);
  RUN(layernorm);
  RUN(rmsnorm);
  RUN(modulate_and_gate);
  RUN(activations);
  RUN(activation_derivatives_exact);
  RUN(attention_self);
  RUN(attention_cross);
  RUN(conv1d);
  RUN(selective_scan);
  RUN(patch_and_unpatchify);
  return harness::summary();
}
