// Vulkan patch_embed_forward: im2col (shaders/patch_embed.comp) into the context's scratch
// buffer, then linear_forward (shaders/linear.comp), as the CPU's patchify + Linear.
// defines: vk::patch_embed_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/patch_embed.spv.inc"
};
const Shader kShader{"patch_embed", kSpv, sizeof(kSpv) / 4, 2};
}  // namespace

void patch_embed_forward(float* out, const float* img, const void* weight, DType wdtype, const float* bias, int B,
                         int Cin, int H, int W, int p, int C) {
  Context& c = Context::get();
  const char* op = "patch_embed";
  if (p < 1 || H % p || W % p)
    throw EngineError(ErrorCode::InvalidArgument, "vulkan patch_embed: image size is not a multiple of the patch");
  const int h = H / p, w = W / p, K = Cin * p * p;
  const int64_t rows = int64_t(B) * h * w, n = rows * K;
  if (n == 0) return;
  u32(int64_t(B) * Cin * H * W, op);
  float* cols = static_cast<float*>(c.scratch(size_t(u32(n, op)) * 4));
  struct { uint32_t n, Cin, H, W, p, h, w, io; } pc{uint32_t(n), u32(Cin, op), u32(H, op), u32(W, op), u32(p, op),
                                                   uint32_t(h), uint32_t(w), c.elem_offset(img, 4)};
  c.dispatch(kShader, {cols, img}, &pc, sizeof pc, stride_groups(c, n));
  linear_forward(out, cols, weight, wdtype, bias, int(u32(rows, op)), K, C, false);
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
