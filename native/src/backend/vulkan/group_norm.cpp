// Vulkan group_norm_forward (shaders/group_norm.glsl, portable or subgroup
// variant): one workgroup per (group, sample).
// defines: vk::group_norm_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/group_norm.spv.inc"
};
const uint32_t kSubgroupSpv[] = {
#include "shaders/group_norm_subgroup.spv.inc"
};
const Shader kShader{"group_norm", kSpv, sizeof(kSpv) / 4, 6};
const Shader kSubgroupShader{"group_norm_subgroup", kSubgroupSpv, sizeof(kSubgroupSpv) / 4, 6};
}  // namespace

void group_norm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                        const float* bias, int B, int64_t HW, int C, int G, float eps) {
  Context& c = Context::get();
  const char* op = "group_norm";
  if (G <= 0 || C % G != 0)
    throw EngineError(ErrorCode::InvalidArgument, "vulkan group_norm: C=" + std::to_string(C) +
                                                      " is not a multiple of G=" + std::to_string(G));
  if (B <= 0 || HW <= 0) return;
  u32(int64_t(B) * HW * C, op);
  if (uint32_t(G) > c.max_groups_x() || uint32_t(B) > c.max_groups_y())
    throw EngineError(ErrorCode::InvalidArgument, "vulkan group_norm: too many groups or samples for one dispatch");
  struct { uint32_t HW, C, G; float eps; uint32_t oo, mo, ro, io, wo, bo, flags; } pc{
      u32(HW, op), u32(C, op), u32(G, op), eps, c.elem_offset(out, 4), c.elem_offset(mean, 4),
      c.elem_offset(rstd, 4), c.elem_offset(inp, 4), c.elem_offset(weight, 4), c.elem_offset(bias, 4),
      (weight ? 1u : 0u) | (bias ? 2u : 0u) | (mean ? 4u : 0u) | (rstd ? 8u : 0u)};
  c.dispatch(c.pick(kShader, kSubgroupShader),
             {out, mean, rstd, inp, weight, bias}, &pc, sizeof pc, uint32_t(G), uint32_t(B));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
