// Multi-head attention on the CPU: per sample and head, S = q k^T / sqrt(hd) and O = S v as
// two sgemms reading q/k/v in place through their row strides; the softmax between them is
// row-wise with the vectorised exp. Query rows go in tiles so the [tile, Tk] score buffer
// stays in cache. Cross-attention passes k_lens (MODEL.md section 2: sample b attends only
// to its own len_b text tokens, which is what the reference's packed block-diagonal mask
// computes).
// defines: attention_forward, attention_backward
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/fast_math.h"
#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"
#include "core/threadpool.h"

namespace dimba::cpu {
namespace {

// In place: each of `rows` rows of S (length n, leading dim ld) becomes softmax(row).
// Max and sum run in 16 independent lanes: a plain `sum += e` is a serial float reduction
// the compiler may not reorder (no -ffast-math), which left this loop scalar and made the
// softmax cost as much as the two attention GEMMs.
__attribute__((target_clones("avx512f", "avx2", "default")))
void softmax_rows(float* S, int rows, int n, int ld) {
  constexpr int W = 16;
  const int n16 = n / W * W;
  for (int r = 0; r < rows; ++r) {
    float* s = S + int64_t(r) * ld;
    float mx[W], acc[W];
    for (int j = 0; j < W; ++j) {
      mx[j] = -3.0e38f;
      acc[j] = 0.0f;
    }
    for (int i = 0; i < n16; i += W)
      for (int j = 0; j < W; ++j) mx[j] = s[i + j] > mx[j] ? s[i + j] : mx[j];
    float m = -3.0e38f;
    for (int j = 0; j < W; ++j) m = mx[j] > m ? mx[j] : m;
    for (int i = n16; i < n; ++i) m = s[i] > m ? s[i] : m;
    for (int i = 0; i < n16; i += W)
      for (int j = 0; j < W; ++j) {
        float e = fast_expf(s[i + j] - m);
        s[i + j] = e;
        acc[j] += e;
      }
    float sum = 0.0f;
    for (int j = 0; j < W; ++j) sum += acc[j];
    for (int i = n16; i < n; ++i) {
      float e = fast_expf(s[i] - m);
      s[i] = e;
      sum += e;
    }
    const float inv = 1.0f / sum;
    for (int i = 0; i < n; ++i) s[i] *= inv;
  }
}

}  // namespace

void attention_forward(float* out, const float* q, const float* k, const float* v, const int* k_lens, int B,
                       int Tq, int Tk, int H, int hd, int64_t q_stride, int64_t kv_stride, int64_t out_stride) {
  const float scale = 1.0f / std::sqrt(float(hd));
  const int tile = 256;
  std::vector<float> S(size_t(std::min(tile, Tq)) * size_t(std::max(Tk, 1)));
  for (int b = 0; b < B; ++b) {
    const int n = k_lens ? std::max(0, std::min(k_lens[b], Tk)) : Tk;
    for (int h = 0; h < H; ++h) {
      const float* K = k + int64_t(b) * Tk * kv_stride + int64_t(h) * hd;
      const float* V = v + int64_t(b) * Tk * kv_stride + int64_t(h) * hd;
      for (int t0 = 0; t0 < Tq; t0 += tile) {
        const int rows = std::min(tile, Tq - t0);
        const float* Q = q + (int64_t(b) * Tq + t0) * q_stride + int64_t(h) * hd;
        float* O = out + (int64_t(b) * Tq + t0) * out_stride + int64_t(h) * hd;
        if (n == 0) {
          for (int r = 0; r < rows; ++r) std::fill(O + r * out_stride, O + r * out_stride + hd, 0.0f);
          continue;
        }
        sgemm(false, true, rows, n, hd, scale, Q, int(q_stride), K, int(kv_stride), 0.0f, S.data(), n);
        softmax_rows(S.data(), rows, n, n);
        sgemm(false, false, rows, hd, n, 1.0f, S.data(), n, V, int(kv_stride), 0.0f, O, int(out_stride));
      }
    }
  }
}

}  // namespace dimba::cpu

namespace dimba::cpu {

// Backward of attention_forward, same argument order (gradients accumulate into dq/dk/dv,
// which share the strides of q/k/v, so a packed [dq|dk|dv] buffer is written in place).
// Per sample, head and tile of query rows the probabilities are recomputed (P = softmax(S)),
// then with dO the output gradient:
//   dV += P^T dO;  dP = dO V^T;  dS = P * (dP - rowsum(dP * P));
//   dQ += dS K / sqrt(hd);  dK += dS^T Q / sqrt(hd).
// Keys past k_lens[b] got zero weight, so they get zero gradient. Exact exp, rows in double
// for the softmax sums.
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const int* k_lens, int B, int Tq, int Tk, int H, int hd, int64_t q_stride,
                        int64_t kv_stride, int64_t out_stride) {
  const float scale = 1.0f / std::sqrt(float(hd));
  const int tile = 256;
  const size_t sz = size_t(std::min(tile, Tq)) * size_t(std::max(Tk, 1));
  std::vector<float> P(sz), dP(sz);
  for (int b = 0; b < B; ++b) {
    const int n = k_lens ? std::max(0, std::min(k_lens[b], Tk)) : Tk;
    if (n == 0) continue;  // zero output whatever the inputs: no gradient
    for (int h = 0; h < H; ++h) {
      const int64_t kvo = int64_t(b) * Tk * kv_stride + int64_t(h) * hd;
      const float* K = k + kvo;
      const float* V = v + kvo;
      float* dK = dk + kvo;
      float* dV = dv + kvo;
      for (int t0 = 0; t0 < Tq; t0 += tile) {
        const int rows = std::min(tile, Tq - t0);
        const int64_t qo = (int64_t(b) * Tq + t0) * q_stride + int64_t(h) * hd;
        const float* Q = q + qo;
        float* dQ = dq + qo;
        const float* dO = dout + (int64_t(b) * Tq + t0) * out_stride + int64_t(h) * hd;
        sgemm(false, true, rows, n, hd, scale, Q, int(q_stride), K, int(kv_stride), 0.0f, P.data(), n);
        for (int r = 0; r < rows; ++r) {
          float* s = P.data() + int64_t(r) * n;
          float m = s[0];
          for (int i = 1; i < n; ++i) m = std::max(m, s[i]);
          double sum = 0.0;
          for (int i = 0; i < n; ++i) {
            s[i] = std::exp(s[i] - m);
            sum += s[i];
          }
          const float inv = float(1.0 / sum);
          for (int i = 0; i < n; ++i) s[i] *= inv;
        }
        sgemm(true, false, n, hd, rows, 1.0f, P.data(), n, dO, int(out_stride), 1.0f, dV, int(kv_stride));
        sgemm(false, true, rows, n, hd, 1.0f, dO, int(out_stride), V, int(kv_stride), 0.0f, dP.data(), n);
        for (int r = 0; r < rows; ++r) {
          const float* p = P.data() + int64_t(r) * n;
          float* g = dP.data() + int64_t(r) * n;
          double dot = 0.0;
          for (int i = 0; i < n; ++i) dot += double(g[i]) * p[i];
          for (int i = 0; i < n; ++i) g[i] = float(p[i] * (double(g[i]) - dot));
        }
        sgemm(false, false, rows, hd, n, scale, dP.data(), n, K, int(kv_stride), 1.0f, dQ, int(q_stride));
        sgemm(true, false, n, hd, rows, scale, dP.data(), n, Q, int(q_stride), 1.0f, dK, int(kv_stride));
      }
    }
  }
}

}  // namespace dimba::cpu
