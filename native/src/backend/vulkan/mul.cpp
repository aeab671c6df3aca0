// Vulkan mul_forward (shaders/mul.comp): out = a * b elementwise.
// defines: vk::mul_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/mul.spv.inc"
};
const Shader kShader{"mul", kSpv, sizeof(kSpv) / 4, 3};
}  // namespace

void mul_forward(float* out, const float* a, const float* b, int64_t n) {
  Context& c = Context::get();
  struct { uint32_t n, oo, ao, bo; } pc{u32(n, "mul"), c.elem_offset(out, 4), c.elem_offset(a, 4), c.elem_offset(b, 4)};
  c.dispatch(kShader, {out, a, b}, &pc, sizeof pc, stride_groups(c, n));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
