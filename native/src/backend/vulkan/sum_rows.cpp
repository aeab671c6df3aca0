// The weight-gradient reductions (shaders/sum_rows.comp) and the add backward ops built on it:
// out[b*os + c] += sum_t a[b,t,c] (* m[b,t,c]), one thread per output summing in order.
// defines: vk::sum_rows_accumulate, vk::add_backward, vk::add_row_backward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/sum_rows.spv.inc"
};
const Shader kShader{"sum_rows", kSpv, sizeof(kSpv) / 4, 3};
}  // namespace

void sum_rows_accumulate(float* out, const float* a, const float* m, int B, int64_t T, int C, int64_t out_stride) {
  Context& c = Context::get();
  const char* op = "sum_rows";
  if (B == 0 || C == 0) return;
  u32(int64_t(B) * T * C, op);
  struct { uint32_t B, T, C, os, has_m, oo, ao, mo; } pc{u32(B, op), u32(T, op), u32(C, op), u32(out_stride, op),
                                                        m ? 1u : 0u, c.elem_offset(out, 4), c.elem_offset(a, 4),
                                                        c.elem_offset(m, 4)};
  uint32_t gx, gy;
  row_groups(c, groups(int64_t(B) * C, 64), &gx, &gy);
  c.dispatch(kShader, {out, a, m}, &pc, sizeof pc, gx, gy);
}

void add_backward(float* da, float* db, const float* dout, int64_t n) {
  if (da) add_forward(da, da, dout, n);
  if (db) add_forward(db, db, dout, n);
}

void add_row_backward(float* da, float* drow, const float* dout, int64_t rows, int C) {
  if (da) add_forward(da, da, dout, rows * C);
  if (drow) sum_rows_accumulate(drow, dout, nullptr, 1, rows, C, 0);
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
