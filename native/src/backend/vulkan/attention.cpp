// Vulkan attention_forward (shaders/attention.glsl, portable or subgroup
// variant): one workgroup per (query, head, sample)
// with an online softmax over chunks of 64 keys; per-sample key lengths.
// defines: vk::attention_forward
#ifdef DIMBA_HAVE_VULKAN
#include <cmath>

#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/attention.spv.inc"
};
const uint32_t kSubgroupSpv[] = {
#include "shaders/attention_subgroup.spv.inc"
};
const Shader kShader{"attention", kSpv, sizeof(kSpv) / 4, 5};
const Shader kSubgroupShader{"attention_subgroup", kSubgroupSpv, sizeof(kSubgroupSpv) / 4, 5};
}  // namespace

void attention_forward(float* out, const float* q, const float* k, const float* v, const int* k_lens, int B,
                       int Tq, int Tk, int H, int hd, int64_t q_stride, int64_t kv_stride, int64_t out_stride) {
  Context& c = Context::get();
  if (hd < 1 || hd > 512)
    throw EngineError(ErrorCode::InvalidArgument, "vulkan attention: head dimension " + std::to_string(hd) +
                                                      " outside 1..512");
  if (B == 0 || Tq == 0 || H == 0) return;
  u32(int64_t(B) * Tq * q_stride, "attention");
  u32(int64_t(B) * Tk * kv_stride, "attention");
  u32(int64_t(B) * Tq * out_stride, "attention");
  struct {
    uint32_t Tq, Tk, hd, q_stride, kv_stride, out_stride, qo, ko, vo, oo, klo, has_klens;
    float scale;
  } pc{u32(Tq, "attention"), u32(Tk, "attention"), uint32_t(hd), u32(q_stride, "attention"),
       u32(kv_stride, "attention"), u32(out_stride, "attention"), c.elem_offset(q, 4), c.elem_offset(k, 4),
       c.elem_offset(v, 4), c.elem_offset(out, 4), c.elem_offset(k_lens, 4), k_lens ? 1u : 0u,
       1.0f / std::sqrt(float(hd))};
  if (uint32_t(Tq) > c.max_groups_x() || uint32_t(H) > c.max_groups_y())
    throw EngineError(ErrorCode::InvalidArgument, "vulkan attention: too many queries or heads for one dispatch");
  c.dispatch(c.pick(kShader, kSubgroupShader),
             {out, q, k, v, k_lens}, &pc, sizeof pc, u32(Tq, "attention"), u32(H, "attention"),
             u32(B, "attention"));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
