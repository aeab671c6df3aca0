// Vulkan gelu_tanh_forward (shaders/gelu_tanh.comp): see backend/cpu/ops.h for the semantics.
// defines: vk::gelu_tanh_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/gelu_tanh.spv.inc"
};
const Shader kShader{"gelu_tanh", kSpv, sizeof(kSpv) / 4, 2};
}  // namespace

void gelu_tanh_forward(float* out, const float* inp, int64_t n) {
  Context& c = Context::get();
  struct { uint32_t n, oo, io; } pc{u32(n, "gelu_tanh"), c.elem_offset(out, 4), c.elem_offset(inp, 4)};
  c.dispatch(kShader, {out, inp}, &pc, sizeof pc, stride_groups(c, n));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
