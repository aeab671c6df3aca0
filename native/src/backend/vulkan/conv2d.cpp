// Vulkan conv2d_forward (shaders/conv2d.comp): channels-last conv as an implicit GEMM on
// linear.comp's tiles (the im2col is gathered into shared memory, never stored, so a VAE
// layer needs no scratch buffer).
// defines: vk::conv2d_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/conv2d.spv.inc"
};
const Shader kShader{"conv2d", kSpv, sizeof(kSpv) / 4, 4};
}  // namespace

void conv2d_forward(float* out, const float* inp, const void* weight, DType wdtype, const float* bias, int B, int H,
                    int W, int Cin, int Cout, int k, int stride, int pad_top, int pad_left, int pad_bottom,
                    int pad_right, bool accumulate) {
  Context& c = Context::get();
  const char* op = "conv2d";
  uint32_t wd;
  switch (wdtype) {
    case DType::F32: wd = 0; break;
    case DType::F16: wd = 1; break;
    case DType::BF16: wd = 2; break;
    default: throw EngineError(ErrorCode::InvalidArgument, "vulkan conv2d: weights must be f32, f16 or bf16");
  }
  if (k < 1 || stride < 1 || pad_top < 0 || pad_left < 0 || pad_bottom < 0 || pad_right < 0)
    throw EngineError(ErrorCode::InvalidArgument, "vulkan conv2d: kernel, stride or padding out of range");
  const int Ho = (H + pad_top + pad_bottom - k) / stride + 1, Wo = (W + pad_left + pad_right - k) / stride + 1;
  if (H + pad_top + pad_bottom < k || W + pad_left + pad_right < k)
    throw EngineError(ErrorCode::InvalidArgument, "vulkan conv2d: kernel larger than the padded image");
  const int64_t M = int64_t(B) * Ho * Wo, K = int64_t(k) * k * Cin;
  if (M <= 0 || Cout <= 0) return;
  u32(int64_t(B) * H * W * Cin, op);
  u32(M * Cout, op);
  u32(int64_t(Cout) * K, op);
  struct {
    uint32_t M, K, N, yo, xo, wo, bo, wdtype, has_bias, accumulate;
    uint32_t H, W, Cin, ksz, stride, Ho, Wo;
    int32_t pad_top, pad_left;
  } pc{u32(M, op), u32(K, op), u32(Cout, op), c.elem_offset(out, 4), c.elem_offset(inp, 4),
       c.elem_offset(weight, wd == 0 ? 4 : 2), c.elem_offset(bias, 4), wd, bias ? 1u : 0u, accumulate ? 1u : 0u,
       u32(H, op), u32(W, op), u32(Cin, op), u32(k, op), u32(stride, op), u32(Ho, op), u32(Wo, op), pad_top, pad_left};
  c.dispatch(kShader, {out, inp, weight, bias}, &pc, sizeof pc, groups(Cout, 64), groups(M, 64));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
