// Vulkan selective_scan_backward in two passes (shaders/selective_scan_backward.comp, then
// shaders/selective_scan_backward_reduce.comp): pass 1 runs one thread per channel with its
// recomputed states in the context's scratch and leaves each workgroup's dBm/dCm terms there;
// pass 2 sums them in group order. Channels go in chunks small enough that the states
// (T * N floats a channel) fit a scratch buffer of at most 64 MiB.
// defines: vk::selective_scan_backward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/selective_scan_backward.spv.inc"
};
const uint32_t kReduceSpv[] = {
#include "shaders/selective_scan_backward_reduce.spv.inc"
};
const Shader kShader{"selective_scan_backward", kSpv, sizeof(kSpv) / 4, 14};
const Shader kReduceShader{"selective_scan_backward_reduce", kReduceSpv, sizeof(kReduceSpv) / 4, 3};
}  // namespace

void selective_scan_backward(float* du, float* ddelta, float* dA, float* dBm, float* dCm, float* dDskip, float* dz,
                             const float* dy, const float* u, const float* delta, const float* A, const float* Bm,
                             const float* Cm, const float* Dskip, const float* z, int T, int D, int N,
                             int64_t bc_stride, int64_t z_stride, int64_t dbc_stride, int64_t dz_stride,
                             bool reverse) {
  Context& c = Context::get();
  const char* op = "selective_scan_backward";
  if (N < 1 || N > 64)
    throw EngineError(ErrorCode::InvalidArgument, "vulkan selective_scan_backward: state size " + std::to_string(N) +
                                                      " outside 1..64");
  if (T == 0 || D == 0) return;
  u32(int64_t(T) * D, op);
  u32(int64_t(T) * bc_stride, op);
  u32(int64_t(T) * z_stride, op);
  u32(int64_t(T) * dbc_stride, op);
  u32(int64_t(T) * dz_stride, op);
  // Per 32-channel workgroup: 32 channels' states plus one partial row of 2N per step.
  const size_t per_group = size_t(T) * N * 32 * 4 + size_t(T) * 2 * N * 4;
  const size_t cap = std::min<size_t>(size_t(64) << 20, c.max_buffer_bytes());
  if (per_group > cap)
    throw EngineError(ErrorCode::InvalidArgument, "vulkan selective_scan_backward: " + std::to_string(T) +
                                                      " steps of state " + std::to_string(N) +
                                                      " do not fit one scratch buffer");
  const int chunk_groups = int(std::min<size_t>(cap / per_group, size_t((D + 31) / 32)));
  const int Dc = chunk_groups * 32;
  float* sc = static_cast<float*>(c.scratch(per_group * size_t(chunk_groups)));
  const uint32_t po = uint32_t(size_t(T) * N * size_t(Dc));
  for (int d0 = 0; d0 < D; d0 += Dc) {
    const int G = (std::min(Dc, D - d0) + 31) / 32;
    struct {
      uint32_t T, D, N, bc_stride, z_stride, dz_stride, reverse, d0, Dc, flags, po;
      uint32_t duo, ddlo, dao, dDo, dzo, dyo, uo, dlo, ao, bo, co, dso, zo;
    } pc{uint32_t(T), uint32_t(D), uint32_t(N), uint32_t(bc_stride), uint32_t(z_stride), uint32_t(dz_stride),
         reverse ? 1u : 0u, uint32_t(d0), uint32_t(Dc),
         (du ? 1u : 0u) | (ddelta ? 2u : 0u) | (dA ? 4u : 0u) | (dDskip ? 8u : 0u) | (dz ? 16u : 0u), po,
         c.elem_offset(du, 4), c.elem_offset(ddelta, 4), c.elem_offset(dA, 4), c.elem_offset(dDskip, 4),
         c.elem_offset(dz, 4), c.elem_offset(dy, 4), c.elem_offset(u, 4), c.elem_offset(delta, 4),
         c.elem_offset(A, 4), c.elem_offset(Bm, 4), c.elem_offset(Cm, 4), c.elem_offset(Dskip, 4),
         c.elem_offset(z, 4)};
    c.dispatch(kShader, {du, ddelta, dA, dDskip, dz, dy, u, delta, A, Bm, Cm, Dskip, z, sc}, &pc, sizeof pc,
               uint32_t(G));
    if (!dBm && !dCm) continue;
    struct { uint32_t T, N, G, dbc_stride, flags, bo, co, po; } rc{
        uint32_t(T), uint32_t(N), uint32_t(G), uint32_t(dbc_stride), (dBm ? 1u : 0u) | (dCm ? 2u : 0u),
        c.elem_offset(dBm, 4), c.elem_offset(dCm, 4), po};
    uint32_t gx, gy;
    row_groups(c, groups(int64_t(T) * 2 * N, 64), &gx, &gy);
    c.dispatch(kReduceShader, {dBm, dCm, sc}, &rc, sizeof rc, gx, gy);
  }
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
