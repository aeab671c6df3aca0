// Vulkan layernorm_backward / rmsnorm_backward: the input gradient one workgroup per row
// (shaders/norm_backward.comp), the affine gradients one thread per column
// (shaders/norm_backward_weights.comp), both in a fixed summation order.
// defines: vk::layernorm_backward, vk::rmsnorm_backward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/norm_backward.spv.inc"
};
const uint32_t kWeightsSpv[] = {
#include "shaders/norm_backward_weights.spv.inc"
};
const Shader kShader{"norm_backward", kSpv, sizeof(kSpv) / 4, 6};
const Shader kWeightsShader{"norm_backward_weights", kWeightsSpv, sizeof(kWeightsSpv) / 4, 6};

void norm_backward(bool layernorm, float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                   const float* weight, const float* mean, const float* rstd, int64_t rows, int C) {
  Context& c = Context::get();
  const char* op = layernorm ? "layernorm_backward" : "rmsnorm_backward";
  if (rows == 0 || C == 0) return;
  u32(rows * int64_t(C), op);
  if (dinp) {
    struct { uint32_t rows, C, dio, doo, io, wo, mo, ro, flags; } pc{
        u32(rows, op), u32(C, op), c.elem_offset(dinp, 4), c.elem_offset(dout, 4), c.elem_offset(inp, 4),
        c.elem_offset(weight, 4), c.elem_offset(mean, 4), c.elem_offset(rstd, 4),
        (weight ? 1u : 0u) | (layernorm ? 2u : 0u)};
    uint32_t gx, gy;
    row_groups(c, rows, &gx, &gy);
    c.dispatch(kShader, {dinp, dout, inp, weight, mean, rstd}, &pc, sizeof pc, gx, gy);
  }
  if (dweight || dbias) {
    struct { uint32_t rows, C, dwo, dbo, doo, io, mo, ro, flags; } pc{
        u32(rows, op), u32(C, op), c.elem_offset(dweight, 4), c.elem_offset(dbias, 4), c.elem_offset(dout, 4),
        c.elem_offset(inp, 4), c.elem_offset(mean, 4), c.elem_offset(rstd, 4),
        (dweight ? 1u : 0u) | (dbias ? 2u : 0u) | (layernorm ? 4u : 0u)};
    c.dispatch(kWeightsShader, {dweight, dbias, dout, inp, mean, rstd}, &pc, sizeof pc, groups(C, 64));
  }
}
}  // namespace

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t rows, int C) {
  norm_backward(true, dinp, dweight, dbias, dout, inp, weight, mean, rstd, rows, C);
}

void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int64_t rows, int C) {
  norm_backward(false, dinp, dweight, nullptr, dout, inp, weight, nullptr, rstd, rows, C);
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
