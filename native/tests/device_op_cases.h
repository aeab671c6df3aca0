// What the device op tests (test_cuda_ops, test_vulkan_ops) share: random inputs, device copies
// of host vectors, and the op groups whose check is the same on every device: the norms, the
// adaLN modulation with the gated residual, and T5's biased attention, each in f32 against the
// CPU. Each test points `device` at its backend before the first case.
// defines: device_ops::device, rng, randn, zeros, Dev, test_norms, test_modulate_and_gated_residual,
//          test_attention_bias
#pragma once
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "harness.h"

namespace device_ops {
using namespace dimba;

inline const Backend* device = nullptr;  // the backend under test
inline std::mt19937 rng(1234);

inline std::vector<float> randn(size_t n, float scale = 1.0f, float mean = 0.0f) {
  std::normal_distribution<float> d(mean, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

inline std::vector<float> zeros(int64_t n) { return std::vector<float>(static_cast<size_t>(n)); }

// A device copy of a host vector, freed on scope exit.
struct Dev {
  void* p = nullptr;
  size_t bytes = 0;
  template <class T>
  explicit Dev(const std::vector<T>& h) : bytes(h.size() * sizeof(T)) {
    p = device->alloc(bytes);
    device->upload(p, h.data(), bytes);
  }
  ~Dev() { device->free(p); }
  float* f() const { return static_cast<float*>(p); }
  std::vector<float> get() const {
    std::vector<float> h(bytes / 4);
    device->download(h.data(), p, bytes);
    return h;
  }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
};

inline void test_norms() {
  for (int rows : {1, 3, 1000}) {
    for (int C : {5, 72, 1155}) {
      const size_t n = size_t(rows) * C;
      auto x = randn(n, 3.0f, 5.0f), w = randn(C), b = randn(C);
      Dev dx(x), dw(w), db(b), dout(zeros(int64_t(n))), dmean(zeros(rows)), drstd(zeros(rows));
      std::vector<float> want(n), mean(rows), rstd(rows);
      std::printf("    rows=%d C=%d: layernorm (out, mean, rstd), in place; rmsnorm (out, rstd), in place\n", rows, C);
      cpu::layernorm_forward(want.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), rows, C, 1e-6f);
      device->layernorm_forward(dout.f(), dmean.f(), drstd.f(), dx.f(), dw.f(), db.f(), rows, C, 1e-6f);
      CHECK_REL(dout.get().data(), want.data(), n, 1e-5);
      CHECK_REL(dmean.get().data(), mean.data(), size_t(rows), 1e-5);
      CHECK_REL(drstd.get().data(), rstd.data(), size_t(rows), 1e-5);
      // No affine, in place (the Dimba block's call).
      cpu::layernorm_forward(want.data(), nullptr, nullptr, x.data(), nullptr, nullptr, rows, C, 1e-6f);
      device->layernorm_forward(dx.f(), nullptr, nullptr, dx.f(), nullptr, nullptr, rows, C, 1e-6f);
      CHECK_REL(dx.get().data(), want.data(), n, 1e-5);
      device->upload(dx.p, x.data(), n * 4);
      cpu::rmsnorm_forward(want.data(), rstd.data(), x.data(), w.data(), rows, C, 1e-5f);
      device->rmsnorm_forward(dout.f(), drstd.f(), dx.f(), dw.f(), rows, C, 1e-5f);
      CHECK_REL(dout.get().data(), want.data(), n, 1e-5);
      CHECK_REL(drstd.get().data(), rstd.data(), size_t(rows), 1e-5);
      cpu::rmsnorm_forward(want.data(), nullptr, x.data(), nullptr, rows, C, 1e-5f);
      device->rmsnorm_forward(dx.f(), nullptr, dx.f(), nullptr, rows, C, 1e-5f);
      CHECK_REL(dx.get().data(), want.data(), n, 1e-5);
    }
  }
}

inline void test_modulate_and_gated_residual() {
  for (int B : {1, 3}) {
    const int T = 17, C = 72;
    const size_t n = size_t(B) * T * C;
    auto x = randn(n), y = randn(n), table = randn(size_t(B) * 6 * C);
    Dev dx(x), dy(y), dt(table), dout(zeros(int64_t(n)));
    std::vector<float> want(n);
    // shift/scale/gate are views into the [B, 6, C] table, as in the Dimba block.
    std::printf("    B=%d T=%d C=%d: modulate, gated_residual with gate, without\n", B, T, C);
    cpu::modulate_forward(want.data(), x.data(), table.data() + C, table.data() + 4 * C, B, T, C, 6 * C);
    device->modulate_forward(dout.f(), dx.f(), dt.f() + C, dt.f() + 4 * C, B, T, C, 6 * C);
    CHECK_REL(dout.get().data(), want.data(), n, 1e-6);
    want = x;
    cpu::gated_residual_forward(want.data(), y.data(), table.data() + 2 * C, B, T, C, 6 * C);
    device->gated_residual_forward(dx.f(), dy.f(), dt.f() + 2 * C, B, T, C, 6 * C);
    CHECK_REL(dx.get().data(), want.data(), n, 1e-6);
    cpu::gated_residual_forward(want.data(), y.data(), nullptr, B, T, C, 0);
    device->gated_residual_forward(dx.f(), dy.f(), nullptr, B, T, C, 0);
    CHECK_REL(dx.get().data(), want.data(), n, 1e-6);
  }
}

inline void test_attention_bias() {
  // T5: packed [q|k|v] rows, a shared [H, Tq, Tk] bias, a key mask per sample: all kept; the
  // first chunk of 64 keys masked and a few kept after it; none kept (uniform weights).
  const int B = 3, T = 70, H = 2, hd = 72, C = H * hd;
  auto qkv = randn(size_t(B) * T * 3 * C), bias = randn(size_t(H) * T * T);
  std::vector<int> mask(size_t(B) * T, 1);
  for (int j = 0; j < T; ++j) mask[size_t(T) + j] = j >= 64 && j % 2 == 0;
  for (int j = 0; j < T; ++j) mask[size_t(2) * T + j] = 0;
  Dev dqkv(qkv), dbias(bias), dmask(mask), dout(zeros(int64_t(B) * T * C));
  std::vector<float> want(size_t(B) * T * C);
  for (bool with : {true, false}) {
    std::printf("    attention_bias B=%d T=%d H=%d hd=%d %s\n", B, T, H, hd, with ? "bias + mask" : "neither");
    cpu::attention_bias_forward(want.data(), qkv.data(), qkv.data() + C, qkv.data() + 2 * C,
                                with ? bias.data() : nullptr, with ? mask.data() : nullptr, B, T, T, H, hd, 3 * C,
                                3 * C, C);
    device->attention_bias_forward(dout.f(), dqkv.f(), dqkv.f() + C, dqkv.f() + 2 * C, with ? dbias.f() : nullptr,
                                   with ? static_cast<const int32_t*>(dmask.p) : nullptr, B, T, T, H, hd, 3 * C,
                                   3 * C, C);
    CHECK_REL(dout.get().data(), want.data(), want.size(), 1e-5);
  }
}

}  // namespace device_ops
