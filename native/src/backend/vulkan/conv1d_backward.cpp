// Vulkan conv1d_causal_depthwise_backward (shaders/conv1d_backward.comp): the input gradient
// gathered one thread per (t, d), then the tap and bias gradients one thread per channel,
// each summing over time in order (no atomics).
// defines: vk::conv1d_causal_depthwise_backward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/conv1d_backward.spv.inc"
};
const Shader kShader{"conv1d_backward", kSpv, sizeof(kSpv) / 4, 6};
}  // namespace

void conv1d_causal_depthwise_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                      const float* inp, const float* weight, int T, int D, int K,
                                      int64_t in_stride, bool reverse) {
  Context& c = Context::get();
  const char* op = "conv1d_backward";
  if (K < 1 || K > 16)
    throw EngineError(ErrorCode::InvalidArgument, "vulkan conv1d_backward: kernel size " + std::to_string(K) +
                                                      " outside 1..16");
  if (T == 0 || D == 0) return;
  u32(int64_t(T) * D, op);
  u32(int64_t(T) * in_stride, op);
  struct { uint32_t T, D, K, in_stride, reverse, mode, flags, dio, dwo, dbo, doo, io, wo; } pc{
      u32(T, op), u32(D, op), u32(K, op), u32(in_stride, op), reverse ? 1u : 0u, 0u,
      (dweight ? 1u : 0u) | (dbias ? 2u : 0u), c.elem_offset(dinp, 4), c.elem_offset(dweight, 4),
      c.elem_offset(dbias, 4), c.elem_offset(dout, 4), c.elem_offset(inp, 4), c.elem_offset(weight, 4)};
  uint32_t gx, gy;
  if (dinp) {
    row_groups(c, groups(int64_t(T) * D, 64), &gx, &gy);
    c.dispatch(kShader, {dinp, dweight, dbias, dout, inp, weight}, &pc, sizeof pc, gx, gy);
  }
  if (dweight || dbias) {
    pc.mode = 1;
    row_groups(c, groups(D, 64), &gx, &gy);
    c.dispatch(kShader, {dinp, dweight, dbias, dout, inp, weight}, &pc, sizeof pc, gx, gy);
  }
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
