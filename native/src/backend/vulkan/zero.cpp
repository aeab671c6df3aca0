// Vulkan zero (shaders/zero.comp): device memory set to 0 for gradients that accumulate.
// defines: vk::zero
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/zero.spv.inc"
};
const Shader kShader{"zero", kSpv, sizeof(kSpv) / 4, 1};
}  // namespace

void zero(void* dst, size_t bytes) {
  Context& c = Context::get();
  if (bytes % 4)
    throw EngineError(ErrorCode::InvalidArgument,
                      "vulkan zero: " + std::to_string(bytes) + " bytes is not a whole number of floats");
  const int64_t n = int64_t(bytes / 4);
  if (n == 0) return;
  struct { uint32_t n, oo; } pc{u32(n, "zero"), c.elem_offset(dst, 4)};
  c.dispatch(kShader, {dst}, &pc, sizeof pc, stride_groups(c, n));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
