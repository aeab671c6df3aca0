// Vulkan attention_backward, the CPU's algorithm on the device: per sample, head and tile of
// up to 256 query rows, the scaled scores on sgemm, the probabilities recomputed and dS formed
// by shaders/attention_backward_rows.comp (keys past k_lens[b] masked there, so the host never
// reads the lengths), and the four products dV += P^T dO, dP = dO V^T, dQ += dS K / sqrt(hd),
// dK += dS^T Q / sqrt(hd) on sgemm (beta 1 accumulates). P and dP live in the context's scratch.
// defines: vk::attention_backward
#ifdef DIMBA_HAVE_VULKAN
#include <cmath>

#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/attention_backward_rows.spv.inc"
};
const Shader kShader{"attention_backward_rows", kSpv, sizeof(kSpv) / 4, 3};

void rows_op(uint32_t mode, float* s, const float* pr, const int* k_lens, int b, int rows, int Tk) {
  Context& c = Context::get();
  struct { uint32_t rows, Tk, mode, has_lens, b, so, po, lo; } pc{
      uint32_t(rows), uint32_t(Tk), mode, k_lens ? 1u : 0u, uint32_t(b), c.elem_offset(s, 4), c.elem_offset(pr, 4),
      c.elem_offset(k_lens, 4)};
  uint32_t gx, gy;
  row_groups(c, rows, &gx, &gy);
  c.dispatch(kShader, {s, pr, k_lens}, &pc, sizeof pc, gx, gy);
}
}  // namespace

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const int* k_lens, int B, int Tq, int Tk, int H, int hd, int64_t q_stride,
                        int64_t kv_stride, int64_t out_stride) {
  Context& c = Context::get();
  const char* op = "attention_backward";
  if (B < 0 || Tq < 0 || Tk < 0 || H < 0 || hd < 0)
    throw EngineError(ErrorCode::InvalidArgument, "vulkan attention_backward: negative size");
  if (B == 0 || Tq == 0 || Tk == 0 || H == 0 || hd == 0) return;
  u32(int64_t(B) * Tq * q_stride, op);
  u32(int64_t(B) * Tk * kv_stride, op);
  u32(int64_t(B) * Tq * out_stride, op);
  const float scale = 1.0f / std::sqrt(float(hd));
  const int tile = 256, rows_max = std::min(tile, Tq);
  const size_t sz = size_t(rows_max) * size_t(Tk);
  float* P = static_cast<float*>(c.scratch(size_t(u32(int64_t(2) * int64_t(sz), op)) * 4));
  float* dP = P + sz;
  const int qs = int(q_stride), ks = int(kv_stride), os = int(out_stride);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const int64_t kvo = int64_t(b) * Tk * kv_stride + int64_t(h) * hd;
      for (int t0 = 0; t0 < Tq; t0 += tile) {
        const int rows = std::min(tile, Tq - t0);
        const int64_t qo = (int64_t(b) * Tq + t0) * q_stride + int64_t(h) * hd;
        const float* dO = dout + (int64_t(b) * Tq + t0) * out_stride + int64_t(h) * hd;
        sgemm(false, true, rows, Tk, hd, scale, q + qo, qs, k + kvo, ks, 0.0f, P, Tk);
        rows_op(0, P, P, k_lens, b, rows, Tk);
        sgemm(true, false, Tk, hd, rows, 1.0f, P, Tk, dO, os, 1.0f, dv + kvo, ks);
        sgemm(false, true, rows, Tk, hd, 1.0f, dO, os, v + kvo, ks, 0.0f, dP, Tk);
        rows_op(1, dP, P, k_lens, b, rows, Tk);
        sgemm(false, false, rows, hd, Tk, scale, dP, Tk, k + kvo, ks, 1.0f, dq + qo, qs);
        sgemm(true, false, Tk, hd, rows, scale, dP, Tk, q + qo, qs, 1.0f, dk + kvo, ks);
      }
    }
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
