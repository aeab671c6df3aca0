// Vulkan softplus_forward (shaders/softplus.comp): see backend/cpu/ops.h for the semantics.
// defines: vk::softplus_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/softplus.spv.inc"
};
const Shader kShader{"softplus", kSpv, sizeof(kSpv) / 4, 2};
}  // namespace

void softplus_forward(float* out, const float* inp, int64_t n) {
  Context& c = Context::get();
  struct { uint32_t n, oo, io; } pc{u32(n, "softplus"), c.elem_offset(out, 4), c.elem_offset(inp, 4)};
  c.dispatch(kShader, {out, inp}, &pc, sizeof pc, stride_groups(c, n));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
