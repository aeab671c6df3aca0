// Vulkan conv1d_causal_depthwise_forward (shaders/conv1d_causal_depthwise.comp), both time
// directions.
// defines: vk::conv1d_causal_depthwise_forward, vk::conv1d_causal_depthwise_silu_forward (the
//          two dispatches)
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/conv1d_causal_depthwise.spv.inc"
};
const Shader kShader{"conv1d_causal_depthwise", kSpv, sizeof(kSpv) / 4, 4};
}  // namespace

void conv1d_causal_depthwise_forward(float* out, const float* inp, const float* weight, const float* bias,
                                     int T, int D, int K, int64_t in_stride, bool reverse) {
  Context& c = Context::get();
  const char* op = "conv1d_causal_depthwise";
  if (K < 1) throw EngineError(ErrorCode::InvalidArgument, "vulkan conv1d_causal_depthwise: kernel size < 1");
  const int64_t n = int64_t(T) * D;
  if (n == 0) return;
  u32(n, op);
  u32(int64_t(T) * in_stride, op);
  struct { uint32_t T, D, K, in_stride, oo, io, wo, bo, has_bias, reverse; } pc{
      u32(T, op), u32(D, op), u32(K, op), u32(in_stride, op), c.elem_offset(out, 4), c.elem_offset(inp, 4),
      c.elem_offset(weight, 4), c.elem_offset(bias, 4), bias ? 1u : 0u, reverse ? 1u : 0u};
  c.dispatch(kShader, {out, inp, weight, bias}, &pc, sizeof pc, stride_groups(c, n));
}

void conv1d_causal_depthwise_silu_forward(float* out, const float* inp, const float* weight, const float* bias,
                                          int T, int D, int K, int64_t in_stride, bool reverse) {
  conv1d_causal_depthwise_forward(out, inp, weight, bias, T, D, K, in_stride, reverse);
  silu_forward(out, out, int64_t(T) * D);
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
