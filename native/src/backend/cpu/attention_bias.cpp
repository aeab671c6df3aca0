// T5 self-attention on the CPU (MODEL.md section 4): softmax(q k^T + bias[h] + key mask) v
// with NO 1/sqrt(hd) scaling (T5 folds it into the q initialisation), an additive
// relative-position bias [H, Tq, Tk] shared by every sample, and a per-sample key padding
// mask. Same shape of code as attention.cpp: per sample and head two sgemms reading q/k/v in
// place through their row strides, query rows in tiles so the score tile stays in cache.
// Masked keys get weight exactly 0 (the reference adds -inf / the dtype minimum). A sample
// whose keys are ALL masked attends uniformly to all Tk keys: that is what the reference's
// additive finfo.min mask yields, since the huge negative swamps every score equally.
// defines: attention_bias_forward
#include <algorithm>
#include <cstdint>
#include <vector>

#include "backend/cpu/fast_math.h"
#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"

namespace dimba::cpu {
namespace {

// In place: rows of S (length n) += bias rows (length n, leading dim bias_ld), then softmax
// over the keys with keep[j] != 0 (keep null: all), masked keys set to 0.
__attribute__((target_clones("avx512f", "avx2", "default")))
void bias_mask_softmax_rows(float* S, int rows, int n, const float* bias, int64_t bias_ld, const int32_t* keep) {
  for (int r = 0; r < rows; ++r) {
    float* s = S + int64_t(r) * n;
    if (bias) {
      const float* b = bias + int64_t(r) * bias_ld;
      for (int i = 0; i < n; ++i) s[i] += b[i];
    }
    float m = -3.0e38f;
    if (keep) {
      for (int i = 0; i < n; ++i) m = (keep[i] && s[i] > m) ? s[i] : m;
    } else {
      for (int i = 0; i < n; ++i) m = s[i] > m ? s[i] : m;
    }
    float sum = 0.0f;
    for (int i = 0; i < n; ++i) {
      float e = fast_expf(s[i] - m);
      if (keep && !keep[i]) e = 0.0f;
      s[i] = e;
      sum += e;
    }
    const float inv = 1.0f / sum;
    for (int i = 0; i < n; ++i) s[i] *= inv;
  }
}

}  // namespace

void attention_bias_forward(float* out, const float* q, const float* k, const float* v, const float* bias,
                            const int32_t* key_mask, int B, int Tq, int Tk, int H, int hd, int64_t q_stride,
                            int64_t kv_stride, int64_t out_stride) {
  const int tile = 256;
  std::vector<float> S(size_t(std::min(tile, std::max(Tq, 1))) * size_t(std::max(Tk, 1)));
  for (int b = 0; b < B; ++b) {
    const int32_t* keep = key_mask ? key_mask + int64_t(b) * Tk : nullptr;
    // All keys masked: the reference's additive mask swamps every score equally, so each
    // query averages all Tk values uniformly (bias and q k^T drop out).
    const bool uniform = keep && std::none_of(keep, keep + Tk, [](int32_t m) { return m != 0; });
    for (int h = 0; h < H; ++h) {
      const float* K = k + int64_t(b) * Tk * kv_stride + int64_t(h) * hd;
      const float* V = v + int64_t(b) * Tk * kv_stride + int64_t(h) * hd;
      for (int t0 = 0; t0 < Tq; t0 += tile) {
        const int rows = std::min(tile, Tq - t0);
        const float* Q = q + (int64_t(b) * Tq + t0) * q_stride + int64_t(h) * hd;
        float* O = out + (int64_t(b) * Tq + t0) * out_stride + int64_t(h) * hd;
        if (Tk == 0) {
          for (int r = 0; r < rows; ++r) std::fill(O + r * out_stride, O + r * out_stride + hd, 0.0f);
          continue;
        }
        if (uniform) {
          std::vector<double> mean(size_t(hd), 0.0);
          for (int j = 0; j < Tk; ++j)
            for (int c = 0; c < hd; ++c) mean[size_t(c)] += V[int64_t(j) * kv_stride + c];
          for (int r = 0; r < rows; ++r)
            for (int c = 0; c < hd; ++c) O[r * out_stride + c] = float(mean[size_t(c)] / Tk);
          continue;
        }
        const float* bh = bias ? bias + (int64_t(h) * Tq + t0) * Tk : nullptr;
        sgemm(false, true, rows, Tk, hd, 1.0f, Q, int(q_stride), K, int(kv_stride), 0.0f, S.data(), Tk);
        bias_mask_softmax_rows(S.data(), rows, Tk, bh, Tk, keep);
        sgemm(false, false, rows, hd, Tk, 1.0f, S.data(), Tk, V, int(kv_stride), 0.0f, O, int(out_stride));
      }
    }
  }
}

}  // namespace dimba::cpu
