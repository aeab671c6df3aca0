// Whether linear_forward runs on cooperative matrices (VK_KHR_cooperative_matrix), decided from
// what the device reports: a pure function of plain data, so it is unit-tested with fake
// property sets (tests/test_vulkan_coopmat_select.cpp) on machines whose driver has no such
// extension. No Vulkan types here: it compiles in every build.
// defines: vk::CoopMatType, vk::CoopMatShape, vk::kCoopMatShape, vk::CoopMatChoice, vk::choose_coopmat
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dimba::vk {

// VkComponentTypeKHR reduced to what the choice needs.
enum class CoopMatType { F16, F32, Other };

// One VkCooperativeMatrixPropertiesKHR entry: C[MxN] = A[MxK] * B[KxN] + C.
struct CoopMatShape {
  uint32_t M, N, K;
  CoopMatType a, b, c, result;
  bool subgroup_scope;  // scope VK_SCOPE_SUBGROUP_KHR (the only one the shader uses)
};

// The configuration shaders/coopmat/linear_coopmat.comp is written for: 16x16x16 tiles, f16
// inputs, f32 accumulator and result, subgroup scope (reported by NVIDIA, AMD RDNA3 and Intel
// Arc drivers).
inline constexpr CoopMatShape kCoopMatShape{16, 16, 16, CoopMatType::F16, CoopMatType::F16,
                                            CoopMatType::F32, CoopMatType::F32, true};

struct CoopMatChoice {
  bool use = false;
  std::string reason;  // why, for the device description: "matmul: cooperative matrix 16x16x16 ..."
};

// has_extension: the device lists VK_KHR_cooperative_matrix and its cooperativeMatrix feature
// in compute; shader_built: this engine embeds linear_coopmat (glslc knew the GLSL extension);
// reported: the device's property list. Uses cooperative matrices only when all three allow
// kCoopMatShape; the tiled portable matmul otherwise, saying which condition failed.
CoopMatChoice choose_coopmat(bool has_extension, bool shader_built, const std::vector<CoopMatShape>& reported);

}  // namespace dimba::vk
