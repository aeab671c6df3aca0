// Vulkan layernorm_forward (shaders/layernorm.glsl, portable or subgroup
// variant): one workgroup per row.
// defines: vk::layernorm_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/layernorm.spv.inc"
};
const uint32_t kSubgroupSpv[] = {
#include "shaders/layernorm_subgroup.spv.inc"
};
const Shader kShader{"layernorm", kSpv, sizeof(kSpv) / 4, 6};
const Shader kSubgroupShader{"layernorm_subgroup", kSubgroupSpv, sizeof(kSubgroupSpv) / 4, 6};
}  // namespace

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t rows, int C, float eps) {
  Context& c = Context::get();
  if (rows == 0 || C == 0) return;
  u32(rows * int64_t(C), "layernorm");
  struct { uint32_t rows, C; float eps; uint32_t oo, mo, ro, io, wo, bo, flags; } pc{
      u32(rows, "layernorm"), u32(C, "layernorm"), eps, c.elem_offset(out, 4), c.elem_offset(mean, 4),
      c.elem_offset(rstd, 4), c.elem_offset(inp, 4), c.elem_offset(weight, 4), c.elem_offset(bias, 4),
      (weight ? 1u : 0u) | (bias ? 2u : 0u) | (mean ? 4u : 0u) | (rstd ? 8u : 0u)};
  uint32_t gx, gy;
  row_groups(c, rows, &gx, &gy);
  c.dispatch(c.pick(kShader, kSubgroupShader),
             {out, mean, rstd, inp, weight, bias}, &pc, sizeof pc, gx, gy);
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
