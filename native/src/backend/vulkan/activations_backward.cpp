// Vulkan gelu_tanh/silu/softplus_backward (shaders/activation_backward.comp, one shader with
// the activation as a push constant): dinp += dout * f'(inp).
// defines: vk::gelu_tanh_backward, vk::silu_backward, vk::softplus_backward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/activation_backward.spv.inc"
};
const Shader kShader{"activation_backward", kSpv, sizeof(kSpv) / 4, 3};

void activation_backward(uint32_t kind, float* dinp, const float* dout, const float* inp, int64_t n) {
  Context& c = Context::get();
  if (n == 0) return;
  struct { uint32_t n, kind, dio, doo, io; } pc{u32(n, "activation backward"), kind, c.elem_offset(dinp, 4),
                                                c.elem_offset(dout, 4), c.elem_offset(inp, 4)};
  c.dispatch(kShader, {dinp, dout, inp}, &pc, sizeof pc, stride_groups(c, n));
}
}  // namespace

void gelu_tanh_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  activation_backward(0, dinp, dout, inp, n);
}
void silu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  activation_backward(1, dinp, dout, inp, n);
}
void softplus_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  activation_backward(2, dinp, dout, inp, n);
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
