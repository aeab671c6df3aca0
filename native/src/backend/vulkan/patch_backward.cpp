// Vulkan patch_embed_backward and unpatchify_backward. patch_embed: the forward's im2col
// (shaders/patch_embed.comp) into scratch, dweight += dout^T cols on sgemm, dbias by column
// sums (sum_rows.comp), and dimg: dcols = dout W on sgemm then col2im
// (shaders/patch_col2im.comp). unpatchify: a permutation gathered back
// (shaders/unpatchify_backward.comp).
// defines: vk::patch_embed_backward, vk::unpatchify_backward
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kIm2colSpv[] = {
#include "shaders/patch_embed.spv.inc"
};
const uint32_t kCol2imSpv[] = {
#include "shaders/patch_col2im.spv.inc"
};
const uint32_t kUnpatchifySpv[] = {
#include "shaders/unpatchify_backward.spv.inc"
};
const Shader kIm2col{"patch_embed", kIm2colSpv, sizeof(kIm2colSpv) / 4, 2};
const Shader kCol2im{"patch_col2im", kCol2imSpv, sizeof(kCol2imSpv) / 4, 2};
const Shader kUnpatchify{"unpatchify_backward", kUnpatchifySpv, sizeof(kUnpatchifySpv) / 4, 2};
}  // namespace

void patch_embed_backward(float* dimg, float* dweight, float* dbias, const float* dout, const float* img,
                          const float* weight, int B, int Cin, int H, int W, int p, int C) {
  Context& c = Context::get();
  const char* op = "patch_embed_backward";
  if (p < 1 || H % p || W % p)
    throw EngineError(ErrorCode::InvalidArgument,
                      "vulkan patch_embed_backward: image size is not a multiple of the patch");
  const int h = H / p, w = W / p, K = Cin * p * p;
  const int64_t rows = int64_t(B) * h * w, n = rows * K;
  if (n == 0 || C == 0) return;
  u32(int64_t(B) * Cin * H * W, op);
  u32(rows * C, op);
  // cols [rows, K] and, for dimg, dcols [rows, K] after it.
  float* cols = static_cast<float*>(c.scratch(size_t(u32(2 * n, op)) * 4));
  float* dcols = cols + n;
  if (dbias) sum_rows_accumulate(dbias, dout, nullptr, 1, rows, C, 0);
  if (dweight) {
    struct { uint32_t n, Cin, H, W, p, h, w, io; } pc{uint32_t(n), u32(Cin, op), u32(H, op), u32(W, op), u32(p, op),
                                                     uint32_t(h), uint32_t(w), c.elem_offset(img, 4)};
    c.dispatch(kIm2col, {cols, img}, &pc, sizeof pc, stride_groups(c, n));
    sgemm(true, false, C, K, int(rows), 1.0f, dout, C, cols, K, 1.0f, dweight, K);
  }
  if (dimg) {
    sgemm(false, false, int(rows), K, C, 1.0f, dout, C, weight, K, 0.0f, dcols, K);
    struct { uint32_t n, Cin, H, W, p, h, w, io, co; } pc{uint32_t(n), u32(Cin, op), u32(H, op), u32(W, op),
                                                         u32(p, op), uint32_t(h), uint32_t(w), c.elem_offset(dimg, 4),
                                                         c.elem_offset(dcols, 4)};
    c.dispatch(kCol2im, {dimg, dcols}, &pc, sizeof pc, stride_groups(c, n));
  }
}

void unpatchify_backward(float* dtokens, const float* dimg, int B, int Cout, int h, int w, int p) {
  Context& c = Context::get();
  const char* op = "unpatchify_backward";
  const int64_t n = int64_t(B) * Cout * h * p * w * p;
  if (n == 0) return;
  struct { uint32_t n, Cout, h, w, p, to, io; } pc{u32(n, op), u32(Cout, op), u32(h, op), u32(w, op), u32(p, op),
                                                  c.elem_offset(dtokens, 4), c.elem_offset(dimg, 4)};
  c.dispatch(kUnpatchify, {dtokens, dimg}, &pc, sizeof pc, stride_groups(c, n));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
