// Vulkan modulate_forward (shaders/modulate.comp): adaLN shift/scale read in place from the
// [B, 6, C] table through mod_stride.
// defines: vk::modulate_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/modulate.spv.inc"
};
const Shader kShader{"modulate", kSpv, sizeof(kSpv) / 4, 4};
}  // namespace

void modulate_forward(float* out, const float* inp, const float* shift, const float* scale, int B, int64_t T,
                      int C, int64_t mod_stride) {
  Context& c = Context::get();
  const int64_t n = int64_t(B) * T * C;
  if (n == 0) return;
  struct { uint32_t n, TC, C, ms, oo, io, sho, sco; } pc{
      u32(n, "modulate"), u32(T * C, "modulate"), u32(C, "modulate"), u32(mod_stride, "modulate"),
      c.elem_offset(out, 4), c.elem_offset(inp, 4), c.elem_offset(shift, 4), c.elem_offset(scale, 4)};
  c.dispatch(kShader, {out, inp, shift, scale}, &pc, sizeof pc, stride_groups(c, n));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
