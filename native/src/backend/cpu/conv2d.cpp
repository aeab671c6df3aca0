// 2-D convolution on channels-last images as im2col panels + the engine's GEMM, so every conv
// of the VAE (3x3 pad 1, 3x3 stride 2 with diffusers' one-sided right/bottom pad, 1x1) runs on
// the same tuned linear_forward as the transformer, with bf16 weights widened inside the GEMM.
//
// Why channels-last: with inp [H, W, Cin] and the kernel stored [Cout, k, k, Cin], one row of
// the im2col panel (one output pixel) is k*k contiguous copies of Cin floats, and the product
// out[pixels, Cout] = panel[pixels, k*k*Cin] @ weight[Cout, k*k*Cin]^T is exactly
// linear_forward's y = x w^T, the weight being the operand it reads in bf16. In NCHW the
// weight would have to be the left, f32-only operand.
//
// Memory: the panel holds a band of output pixels (kPanelBytes), so a 1024x1024 conv never
// materialises its 1M x 1152 im2col matrix (4.7 GB). The work is GEMM-bound: im2col is 0-22%
// of a conv's time at the SDXL decoder's shapes, the most at 128 channels with the fastest
// GEMM path (native/bench/README.md, VAE).
// defines: conv2d_forward
#include <algorithm>
#include <cstring>
#include <vector>

#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/threadpool.h"

namespace dimba::cpu {
namespace {

// About 2 MiB of panel (near L2, so the GEMM reads it back from cache), but never under 256
// rows, so the GEMM amortises streaming the weights over enough pixels at the widest conv
// (K = 9*512). Measured in bench/bench_vae.cpp (`bench_vae conv`): 8 MiB, 2 MiB/256 rows and
// 1 MiB or 512 KiB/128 rows are within noise of each other at 512 channels; 2 MiB/256 rows
// was best at 128 channels, where im2col's share is largest.
constexpr size_t kPanelBytes = size_t(2) << 20;
constexpr int64_t kPanelMinRows = 256;

}  // namespace

void conv2d_forward(float* out, const float* inp, const void* weight, DType wdtype, const float* bias, int B,
                    int H, int W, int Cin, int Cout, int k, int stride, int pad_top, int pad_left, int pad_bottom,
                    int pad_right, bool accumulate) {
  if (B < 0 || H <= 0 || W <= 0 || Cin <= 0 || Cout <= 0 || k <= 0 || stride <= 0 || pad_top < 0 || pad_left < 0 ||
      pad_bottom < 0 || pad_right < 0 || H + pad_top + pad_bottom < k || W + pad_left + pad_right < k)
    throw EngineError(ErrorCode::InvalidArgument, "conv2d_forward: bad sizes");
  const int Ho = (H + pad_top + pad_bottom - k) / stride + 1;
  const int Wo = (W + pad_left + pad_right - k) / stride + 1;
  if (k == 1 && stride == 1 && pad_top + pad_left + pad_bottom + pad_right == 0) {
    // A 1x1 conv is a Linear over pixels: no panel at all.
    linear_forward(out, inp, weight, wdtype, bias, B * H * W, Cin, Cout, accumulate);
    return;
  }
  const int K = k * k * Cin;
  const int64_t npix = int64_t(Ho) * Wo;
  const int64_t rows = std::min<int64_t>(npix, std::max<int64_t>(kPanelMinRows, int64_t(kPanelBytes / (size_t(K) * 4))));
  thread_local std::vector<float> panel;
  panel.resize(size_t(rows) * K);
  float* const pan = panel.data();  // a lambda naming `panel` would see each worker's own (empty) one
  const size_t row_bytes = size_t(Cin) * sizeof(float);
  for (int b = 0; b < B; ++b) {
    const float* x = inp + int64_t(b) * H * W * Cin;
    float* y = out + int64_t(b) * npix * Cout;
    for (int64_t p0 = 0; p0 < npix; p0 += rows) {
      const int64_t m = std::min(rows, npix - p0);
      // panel[r, (ky*k + kx)*Cin + c] = x[oy*stride - pad_top + ky, ox*stride - pad_left + kx, c] (0 outside).
      // Rows are independent: split over the engine's threads (the GEMM threads itself).
      ThreadPool::global().parallel_for(m, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const int oy = int((p0 + r) / Wo), ox = int((p0 + r) % Wo);
          float* dst = pan + r * K;
          for (int ky = 0; ky < k; ++ky) {
            const int iy = oy * stride - pad_top + ky;
            for (int kx = 0; kx < k; ++kx, dst += Cin) {
              const int ix = ox * stride - pad_left + kx;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                std::memset(dst, 0, row_bytes);
              else
                std::memcpy(dst, x + (int64_t(iy) * W + ix) * Cin, row_bytes);
            }
          }
        }
      }, 64);
      linear_forward(y + p0 * Cout, pan, weight, wdtype, bias, int(m), K, Cout, accumulate);
    }
  }
}

}  // namespace dimba::cpu
