// Vulkan sincos_pos_embed_2d and timestep_embedding_forward. Both are specified in float64
// (MODEL.md section 2 steps 2-3: sin/cos of arguments up to ~1000 rad), and GLSL has no
// float64 sin/cos, so they are computed on the host exactly as the CPU reference does and the
// result is uploaded: the position table has no device input at all, and the timestep
// embedding reads B timesteps back first (a sync point; B * dim values).
// defines: vk::sincos_pos_embed_2d, vk::timestep_embedding_forward
#ifdef DIMBA_HAVE_VULKAN
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/vulkan/ops.h"

namespace dimba::vk {

void sincos_pos_embed_2d(float* out, int C, int h, int w, double base_size, double pe_interpolation) {
  Context& c = Context::get();
  const int64_t n = int64_t(h) * w * C;
  if (n <= 0) return;
  std::vector<float> host(size_t(u32(n, "sincos_pos_embed_2d")));
  cpu::sincos_pos_embed_2d(host.data(), C, h, w, base_size, pe_interpolation);
  c.upload(out, host.data(), host.size() * 4);
}

void timestep_embedding_forward(float* out, const float* t, int B, int dim, double max_period) {
  Context& c = Context::get();
  if (B <= 0 || dim <= 0) return;
  std::vector<float> ts(static_cast<size_t>(B)), host(size_t(u32(int64_t(B) * dim, "timestep_embedding")));
  c.download(ts.data(), t, ts.size() * 4);
  cpu::timestep_embedding_forward(host.data(), ts.data(), B, dim, max_period);
  c.upload(out, host.data(), host.size() * 4);
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
