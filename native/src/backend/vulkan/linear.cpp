// Vulkan linear_forward (shaders/linear.comp): a tiled shared-memory GEMM, weights in
// f32/f16/bf16 with f32 accumulation; f16 weights on cooperative matrices instead
// (shaders/coopmat/linear_coopmat.comp) where the device and the build allow it.
// defines: vk::linear_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/linear.spv.inc"
};
const Shader kShader{"linear", kSpv, sizeof(kSpv) / 4, 4};
#ifdef DIMBA_VULKAN_COOPMAT
const uint32_t kCoopMatSpv[] = {
#include "shaders/linear_coopmat.spv.inc"
};
const Shader kCoopMatShader{"linear_coopmat", kCoopMatSpv, sizeof(kCoopMatSpv) / 4, 4, true};
#endif
}  // namespace

#ifdef DIMBA_VULKAN_COOPMAT
bool coopmat_shader_built() { return true; }
#else
bool coopmat_shader_built() { return false; }
#endif

void linear_forward(float* y, const float* x, const void* w, DType wdtype, const float* bias, int M, int K, int N,
                    bool accumulate) {
  Context& c = Context::get();
  uint32_t wd;
  switch (wdtype) {
    case DType::F32: wd = 0; break;
    case DType::F16: wd = 1; break;
    case DType::BF16: wd = 2; break;
    default: throw EngineError(ErrorCode::InvalidArgument, "vulkan linear: weights must be f32, f16 or bf16");
  }
  if (M == 0 || N == 0) return;
  u32(int64_t(M) * K, "linear");
  u32(int64_t(M) * N, "linear");
  u32(int64_t(N) * K, "linear");
  struct { uint32_t M, K, N, yo, xo, wo, bo, wdtype, has_bias, accumulate; } pc{
      u32(M, "linear"), u32(K, "linear"), u32(N, "linear"), c.elem_offset(y, 4), c.elem_offset(x, 4),
      c.elem_offset(w, wd == 0 ? 4 : 2), c.elem_offset(bias, 4), wd, bias ? 1u : 0u, accumulate ? 1u : 0u};
#ifdef DIMBA_VULKAN_COOPMAT
  if (wd == 1 && c.coopmat()) {  // f16 weights on cooperative matrices: one 16x16 tile per group
    struct { uint32_t M, K, N, yo, xo, wo, bo, has_bias, accumulate; } cpc{
        pc.M, pc.K, pc.N, pc.yo, pc.xo, pc.wo, pc.bo, pc.has_bias, pc.accumulate};
    c.dispatch(kCoopMatShader, {y, x, w, bias}, &cpc, sizeof cpc, groups(N, 16), groups(M, 16));
    return;
  }
#endif
  c.dispatch(kShader, {y, x, w, bias}, &pc, sizeof pc, groups(N, 64), groups(M, 64));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
