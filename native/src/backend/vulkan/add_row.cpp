// Vulkan add_row_forward (shaders/add_row.comp): out[r,:] = a[r,:] + row[:].
// defines: vk::add_row_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/add_row.spv.inc"
};
const Shader kShader{"add_row", kSpv, sizeof(kSpv) / 4, 3};
}  // namespace

void add_row_forward(float* out, const float* a, const float* row, int64_t rows, int C) {
  Context& c = Context::get();
  const int64_t n = rows * int64_t(C);
  if (n == 0) return;
  struct { uint32_t n, C, oo, ao, ro; } pc{u32(n, "add_row"), u32(C, "add_row"), c.elem_offset(out, 4),
                                          c.elem_offset(a, 4), c.elem_offset(row, 4)};
  c.dispatch(kShader, {out, a, row}, &pc, sizeof pc, stride_groups(c, n));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
