// Vulkan unpatchify_forward (shaders/unpatchify.comp): tokens back to a [B, Cout, H, W] image.
// defines: vk::unpatchify_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/unpatchify.spv.inc"
};
const Shader kShader{"unpatchify", kSpv, sizeof(kSpv) / 4, 2};
}  // namespace

void unpatchify_forward(float* img, const float* tokens, int B, int Cout, int h, int w, int p) {
  Context& c = Context::get();
  const char* op = "unpatchify";
  const int64_t n = int64_t(B) * Cout * h * p * w * p;
  if (n == 0) return;
  struct { uint32_t n, Cout, h, w, p, oo, to; } pc{u32(n, op), u32(Cout, op), u32(h, op), u32(w, op), u32(p, op),
                                                  c.elem_offset(img, 4), c.elem_offset(tokens, 4)};
  c.dispatch(kShader, {img, tokens}, &pc, sizeof pc, stride_groups(c, n));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
