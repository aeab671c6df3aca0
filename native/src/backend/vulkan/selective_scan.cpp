// Vulkan selective_scan_forward (shaders/selective_scan.comp): one thread per channel, the
// time loop sequential, state float32 (N <= 64, as on CPU).
// defines: vk::selective_scan_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/selective_scan.spv.inc"
};
const Shader kShader{"selective_scan", kSpv, sizeof(kSpv) / 4, 8};
}  // namespace

void selective_scan_forward(float* y, const float* u, const float* delta, const float* A, const float* Bm,
                            const float* Cm, const float* Dskip, const float* z, int T, int D, int N,
                            int64_t bc_stride, int64_t z_stride, bool reverse, bool accumulate, bool delta_softplus) {
  Context& c = Context::get();
  const char* op = "selective_scan";
  if (N < 1 || N > 64)
    throw EngineError(ErrorCode::InvalidArgument, "vulkan selective_scan: state size " + std::to_string(N) +
                                                      " outside 1..64");
  if (T == 0 || D == 0) return;
  u32(int64_t(T) * D, op);
  u32(int64_t(T) * bc_stride, op);
  u32(int64_t(T) * z_stride, op);
  struct {
    uint32_t T, D, N, bc_stride, z_stride, reverse, accumulate, yo, uo, dlo, ao, bo, co, dso, zo, softplus;
  } pc{
      u32(T, op), u32(D, op), u32(N, op), u32(bc_stride, op), u32(z_stride, op), reverse ? 1u : 0u,
      accumulate ? 1u : 0u, c.elem_offset(y, 4), c.elem_offset(u, 4), c.elem_offset(delta, 4),
      c.elem_offset(A, 4), c.elem_offset(Bm, 4), c.elem_offset(Cm, 4), c.elem_offset(Dskip, 4),
      c.elem_offset(z, 4), delta_softplus ? 1u : 0u};
  c.dispatch(kShader, {y, u, delta, A, Bm, Cm, Dskip, z}, &pc, sizeof pc, groups(D, 64));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
