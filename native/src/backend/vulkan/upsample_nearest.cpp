// Vulkan upsample_nearest_forward (shaders/upsample_nearest.comp).
// defines: vk::upsample_nearest_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/upsample_nearest.spv.inc"
};
const Shader kShader{"upsample_nearest", kSpv, sizeof(kSpv) / 4, 2};
}  // namespace

void upsample_nearest_forward(float* out, const float* inp, int B, int H, int W, int C, int scale) {
  Context& c = Context::get();
  const char* op = "upsample_nearest";
  if (scale < 1) throw EngineError(ErrorCode::InvalidArgument, "vulkan upsample_nearest: scale < 1");
  const int64_t n = int64_t(B) * H * scale * W * scale * C;
  if (n <= 0) return;
  struct { uint32_t n, H, W, C, s, oo, io; } pc{u32(n, op), u32(H, op), u32(W, op), u32(C, op), u32(scale, op),
                                               c.elem_offset(out, 4), c.elem_offset(inp, 4)};
  c.dispatch(kShader, {out, inp}, &pc, sizeof pc, stride_groups(c, n));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
