// Vulkan linear_int8_forward (shaders/linear_int8.comp): linear.comp's tiled GEMM with
// symmetric per-row int8 weights dequantised on load (T5).
// defines: vk::linear_int8_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/linear_int8.spv.inc"
};
const Shader kShader{"linear_int8", kSpv, sizeof(kSpv) / 4, 5};
}  // namespace

void linear_int8_forward(float* y, const float* x, const int8_t* w, const float* scale, const float* bias, int M,
                         int K, int N, bool accumulate) {
  Context& c = Context::get();
  const char* op = "linear_int8";
  if (M <= 0 || N <= 0) return;
  u32(int64_t(M) * K, op);
  u32(int64_t(M) * N, op);
  u32(int64_t(N) * K, op);
  struct { uint32_t M, K, N, yo, xo, wo, so, bo, has_bias, accumulate; } pc{
      u32(M, op), u32(K, op), u32(N, op), c.elem_offset(y, 4), c.elem_offset(x, 4), c.elem_offset(w, 1),
      c.elem_offset(scale, 4), c.elem_offset(bias, 4), bias ? 1u : 0u, accumulate ? 1u : 0u};
  c.dispatch(kShader, {y, x, w, scale, bias}, &pc, sizeof pc, groups(N, 64), groups(M, 64));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
