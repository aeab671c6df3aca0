// Patchify (Conv2d with kernel = stride = p, as im2col + Linear) and its inverse for the
// model output (MODEL.md section 2, steps 1 and 9).
// defines: patch_embed_forward, unpatchify_forward, patch_embed_backward, unpatchify_backward
#include <vector>

#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"

namespace dimba::cpu {

void patch_embed_forward(float* out, const float* img, const void* weight, DType wdtype, const float* bias,
                         int B, int Cin, int H, int W, int p, int C) {
  const int h = H / p, w = W / p, K = Cin * p * p;
  const int64_t rows = int64_t(B) * h * w;
  // cols[b, i*w+j, (c*p + a)*p + bb] = img[b, c, i*p+a, j*p+bb]: the [C, Cin, p, p] kernel order.
  std::vector<float> cols(size_t(rows) * K);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j) {
        float* row = cols.data() + ((int64_t(b) * h + i) * w + j) * K;
        for (int c = 0; c < Cin; ++c)
          for (int a = 0; a < p; ++a)
            for (int bb = 0; bb < p; ++bb)
              row[(c * p + a) * p + bb] = img[((int64_t(b) * Cin + c) * H + i * p + a) * W + j * p + bb];
      }
  linear_forward(out, cols.data(), weight, wdtype, bias, int(rows), K, C);
}

void unpatchify_forward(float* img, const float* tokens, int B, int Cout, int h, int w, int p) {
  const int H = h * p, W = w * p, row = p * p * Cout;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j) {
        const float* tok = tokens + ((int64_t(b) * h + i) * w + j) * row;
        for (int a = 0; a < p; ++a)
          for (int bb = 0; bb < p; ++bb)
            for (int c = 0; c < Cout; ++c)
              img[((int64_t(b) * Cout + c) * H + i * p + a) * W + j * p + bb] = tok[(a * p + bb) * Cout + c];
      }
}

}  // namespace dimba::cpu

namespace dimba::cpu {

// Backward of patch_embed_forward for f32 weights (training keeps weights in f32), same
// argument order; gradients accumulate, any of dimg/dweight/dbias may be null:
//   dweight += dout^T cols, dbias += sum_rows dout, dcols = dout W then scattered to dimg.
void patch_embed_backward(float* dimg, float* dweight, float* dbias, const float* dout, const float* img,
                          const float* weight, int B, int Cin, int H, int W, int p, int C) {
  const int h = H / p, w = W / p, K = Cin * p * p;
  const int64_t rows = int64_t(B) * h * w;
  std::vector<float> cols(size_t(rows) * K);
  auto index = [&](int b, int i, int j, int c, int a, int bb) {
    return ((int64_t(b) * Cin + c) * H + i * p + a) * W + j * p + bb;
  };
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j) {
        float* row = cols.data() + ((int64_t(b) * h + i) * w + j) * K;
        for (int c = 0; c < Cin; ++c)
          for (int a = 0; a < p; ++a)
            for (int bb = 0; bb < p; ++bb) row[(c * p + a) * p + bb] = img[index(b, i, j, c, a, bb)];
      }
  if (dweight) sgemm(true, false, C, K, int(rows), 1.0f, dout, C, cols.data(), K, 1.0f, dweight, K);
  if (dbias)
    for (int64_t r = 0; r < rows; ++r)
      for (int o = 0; o < C; ++o) dbias[o] += dout[r * C + o];
  if (dimg) {
    sgemm(false, false, int(rows), K, C, 1.0f, dout, C, weight, K, 0.0f, cols.data(), K);
    for (int b = 0; b < B; ++b)
      for (int i = 0; i < h; ++i)
        for (int j = 0; j < w; ++j) {
          const float* row = cols.data() + ((int64_t(b) * h + i) * w + j) * K;
          for (int c = 0; c < Cin; ++c)
            for (int a = 0; a < p; ++a)
              for (int bb = 0; bb < p; ++bb) dimg[index(b, i, j, c, a, bb)] += row[(c * p + a) * p + bb];
        }
  }
}

// Backward of unpatchify_forward: a permutation, so dtokens += dimg read back in token order.
void unpatchify_backward(float* dtokens, const float* dimg, int B, int Cout, int h, int w, int p) {
  const int H = h * p, W = w * p, row = p * p * Cout;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j) {
        float* tok = dtokens + ((int64_t(b) * h + i) * w + j) * row;
        for (int a = 0; a < p; ++a)
          for (int bb = 0; bb < p; ++bb)
            for (int c = 0; c < Cout; ++c)
              tok[(a * p + bb) * Cout + c] += dimg[((int64_t(b) * Cout + c) * H + i * p + a) * W + j * p + bb];
      }
}

}  // namespace dimba::cpu
