// Vulkan gated_residual_forward (shaders/gated_residual.comp): x += gate_b * y.
// defines: vk::gated_residual_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/gated_residual.spv.inc"
};
const Shader kShader{"gated_residual", kSpv, sizeof(kSpv) / 4, 3};
}  // namespace

void gated_residual_forward(float* x, const float* y, const float* gate, int B, int64_t T, int C,
                            int64_t gate_stride) {
  Context& c = Context::get();
  const int64_t n = int64_t(B) * T * C;
  if (n == 0) return;
  struct { uint32_t n, TC, C, gs, xo, yo, go, has_gate; } pc{
      u32(n, "gated_residual"), u32(T * C, "gated_residual"), u32(C, "gated_residual"),
      u32(gate ? gate_stride : 0, "gated_residual"), c.elem_offset(x, 4), c.elem_offset(y, 4),
      c.elem_offset(gate, 4), gate ? 1u : 0u};
  c.dispatch(kShader, {x, y, gate}, &pc, sizeof pc, stride_groups(c, n));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
