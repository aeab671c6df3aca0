// Vulkan copy_rows_forward (shaders/copy_rows.comp): rows x C floats between row strides.
// defines: vk::copy_rows_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/copy_rows.spv.inc"
};
const Shader kShader{"copy_rows", kSpv, sizeof(kSpv) / 4, 2};
}  // namespace

void copy_rows_forward(float* out, const float* inp, int64_t rows, int C, int64_t out_stride, int64_t in_stride) {
  Context& c = Context::get();
  if (rows <= 0 || C <= 0) return;
  if (out_stride < C || in_stride < C)
    throw EngineError(ErrorCode::InvalidArgument, "vulkan copy_rows: a row stride is shorter than the row");
  // The last element each side touches must fit the shader's 32-bit index.
  u32((rows - 1) * out_stride + C, "copy_rows");
  u32((rows - 1) * in_stride + C, "copy_rows");
  struct { uint32_t n, C, os, is, oo, io; } pc{u32(rows * C, "copy_rows"), uint32_t(C), uint32_t(out_stride),
                                               uint32_t(in_stride), c.elem_offset(out, 4), c.elem_offset(inp, 4)};
  c.dispatch(kShader, {out, inp}, &pc, sizeof pc, stride_groups(c, rows * C));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
