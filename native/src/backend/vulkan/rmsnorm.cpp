// Vulkan rmsnorm_forward (shaders/rmsnorm.glsl, portable or subgroup
// variant): one workgroup per row.
// defines: vk::rmsnorm_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/rmsnorm.spv.inc"
};
const uint32_t kSubgroupSpv[] = {
#include "shaders/rmsnorm_subgroup.spv.inc"
};
const Shader kShader{"rmsnorm", kSpv, sizeof(kSpv) / 4, 4};
const Shader kSubgroupShader{"rmsnorm_subgroup", kSubgroupSpv, sizeof(kSubgroupSpv) / 4, 4};
}  // namespace

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t rows, int C,
                     float eps) {
  Context& c = Context::get();
  if (rows == 0 || C == 0) return;
  u32(rows * int64_t(C), "rmsnorm");
  struct { uint32_t rows, C; float eps; uint32_t oo, ro, io, wo, flags; } pc{
      u32(rows, "rmsnorm"), u32(C, "rmsnorm"), eps, c.elem_offset(out, 4), c.elem_offset(rstd, 4),
      c.elem_offset(inp, 4), c.elem_offset(weight, 4), (weight ? 1u : 0u) | (rstd ? 8u : 0u)};
  uint32_t gx, gy;
  row_groups(c, rows, &gx, &gy);
  c.dispatch(c.pick(kShader, kSubgroupShader),
             {out, rstd, inp, weight}, &pc, sizeof pc, gx, gy);
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
