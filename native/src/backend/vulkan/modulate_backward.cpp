// Vulkan modulate_backward and gated_residual_backward: the elementwise input gradients on
// shaders/scale_add.comp, the per-sample shift/scale/gate gradients (sums over tokens) on
// shaders/sum_rows.comp, as the CPU's two halves.
// defines: vk::modulate_backward, vk::gated_residual_backward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/scale_add.spv.inc"
};
const Shader kShader{"scale_add", kSpv, sizeof(kSpv) / 4, 3};

// out += a * (bias + g_b) (g null: out += a), g_b = g + b*gs over [B, T, C].
void scale_add(float* out, const float* a, const float* g, float bias, int B, int64_t T, int C, int64_t gs) {
  Context& c = Context::get();
  const char* op = "scale_add";
  const int64_t n = int64_t(B) * T * C;
  if (n == 0) return;
  struct { uint32_t n, TC, C, gs, has_g; float bias; uint32_t oo, ao, go; } pc{
      u32(n, op), u32(T * C, op), u32(C, op), u32(gs, op), g ? 1u : 0u, bias,
      c.elem_offset(out, 4), c.elem_offset(a, 4), c.elem_offset(g, 4)};
  c.dispatch(kShader, {out, a, g}, &pc, sizeof pc, stride_groups(c, n));
}
}  // namespace

void modulate_backward(float* dinp, float* dshift, float* dscale, const float* dout, const float* inp,
                       const float* scale, int B, int64_t T, int C, int64_t mod_stride) {
  if (dinp) scale_add(dinp, dout, scale, 1.0f, B, T, C, mod_stride);
  if (dshift) sum_rows_accumulate(dshift, dout, nullptr, B, T, C, mod_stride);
  if (dscale) sum_rows_accumulate(dscale, dout, inp, B, T, C, mod_stride);
}

void gated_residual_backward(float* dy, float* dgate, const float* dx, const float* y, const float* gate, int B,
                             int64_t T, int C, int64_t gate_stride) {
  if (dy) scale_add(dy, dx, gate, 0.0f, B, T, C, gate_stride);
  if (gate && dgate) sum_rows_accumulate(dgate, dx, y, B, T, C, gate_stride);
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
