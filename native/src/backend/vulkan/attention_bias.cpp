// Vulkan attention_bias_forward (shaders/attention_bias.glsl, portable or subgroup
// variant): T5's attention with a shared
// relative-position bias and a per-sample key mask.
// defines: vk::attention_bias_forward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/attention_bias.spv.inc"
};
const uint32_t kSubgroupSpv[] = {
#include "shaders/attention_bias_subgroup.spv.inc"
};
const Shader kShader{"attention_bias", kSpv, sizeof(kSpv) / 4, 6};
const Shader kSubgroupShader{"attention_bias_subgroup", kSubgroupSpv, sizeof(kSubgroupSpv) / 4, 6};
}  // namespace

void attention_bias_forward(float* out, const float* q, const float* k, const float* v, const float* bias,
                            const int32_t* key_mask, int B, int Tq, int Tk, int H, int hd, int64_t q_stride,
                            int64_t kv_stride, int64_t out_stride) {
  Context& c = Context::get();
  const char* op = "attention_bias";
  if (hd < 1 || hd > 256)
    throw EngineError(ErrorCode::InvalidArgument, "vulkan attention_bias: head dimension " + std::to_string(hd) +
                                                      " outside 1..256");
  if (B <= 0 || Tq <= 0 || H <= 0) return;
  u32(int64_t(B) * Tq * q_stride, op);
  u32(int64_t(B) * Tk * kv_stride, op);
  u32(int64_t(B) * Tq * out_stride, op);
  u32(int64_t(H) * Tq * Tk, op);
  if (uint32_t(Tq) > c.max_groups_x() || uint32_t(H) > c.max_groups_y())
    throw EngineError(ErrorCode::InvalidArgument, "vulkan attention_bias: too many queries or heads for one dispatch");
  struct {
    uint32_t Tq, Tk, hd, q_stride, kv_stride, out_stride, qo, ko, vo, oo, bo, mo, has_bias, has_mask;
  } pc{u32(Tq, op), u32(Tk, op), uint32_t(hd), u32(q_stride, op), u32(kv_stride, op), u32(out_stride, op),
       c.elem_offset(q, 4), c.elem_offset(k, 4), c.elem_offset(v, 4), c.elem_offset(out, 4),
       c.elem_offset(bias, 4), c.elem_offset(key_mask, 4), bias ? 1u : 0u, key_mask ? 1u : 0u};
  c.dispatch(c.pick(kShader, kSubgroupShader),
             {out, q, k, v, bias, key_mask}, &pc, sizeof pc, uint32_t(Tq), uint32_t(H), u32(B, op));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
