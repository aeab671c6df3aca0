// The cooperative-matrix choice (see coopmat_select.h). Compiled in every build.
// defines: vk::choose_coopmat
#include "backend/vulkan/coopmat_select.h"

namespace dimba::vk {

namespace {
bool same(const CoopMatShape& x, const CoopMatShape& y) {
  return x.M == y.M && x.N == y.N && x.K == y.K && x.a == y.a && x.b == y.b && x.c == y.c && x.result == y.result &&
         x.subgroup_scope == y.subgroup_scope;
}
}  // namespace

CoopMatChoice choose_coopmat(bool has_extension, bool shader_built, const std::vector<CoopMatShape>& reported) {
  if (!has_extension) return {false, "matmul: tiled (the device lacks VK_KHR_cooperative_matrix)"};
  if (!shader_built)
    return {false, "matmul: tiled (built with a glslc without GL_KHR_cooperative_matrix, so no coopmat shader)"};
  for (const CoopMatShape& s : reported)
    if (same(s, kCoopMatShape))
      return {true, "matmul: cooperative matrix 16x16x16, f16 inputs, f32 accumulation (f16 weights)"};
  return {false, "matmul: tiled (no 16x16x16 f16 x f16 -> f32 subgroup configuration among " +
                     std::to_string(reported.size()) + " reported)"};
}

}  // namespace dimba::vk
