// The VAE's channels-last image ops. conv2d is an implicit GEMM done explicitly in slices:
// im2col of up to ~64M column values at a time into scratch, then a Linear against the
// [Cout, k*k*Cin] weight (exactly the [Cout, k, k, Cin] layout), so the convolutions run on
// cuBLAS in the weight's dtype without a whole-image column buffer. With 16-bit weights in the
// tensor-core mode the columns are written in the weights' type, the one rounding
// linear_forward would give them: at 1024px a 3x3 conv over 128 channels has 1.2G column
// values, 4 bytes each written and read again and 2 converted, where now 2 are written.
// defines: conv2d_forward, upsample_nearest_forward
#include "backend/cuda/activations.h"
#include "backend/cuda/context.h"
#include "backend/cuda/ops.h"

namespace dimba::cu {
namespace {

struct ConvGeom {
  int H, W, Cin, k, stride, pad_top, pad_left, Ho, Wo;
};

// cols[r][(ky*k + kx)*Cin + ci] for output rows r0 .. r0 + rows (r = (b*Ho + ho)*Wo + wo).
template <class Out>
__global__ void im2col_kernel(Out* cols, const float* inp, ConvGeom g, int64_t r0, int64_t rows) {
  const int64_t K = int64_t(g.k) * g.k * g.Cin, n = rows * K;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = r0 + e / K;
    const int q = int(e % K);
    const int ci = q % g.Cin, kx = (q / g.Cin) % g.k, ky = q / (g.Cin * g.k);
    const int wo = int(r % g.Wo), ho = int((r / g.Wo) % g.Ho);
    const int64_t b = r / (int64_t(g.Wo) * g.Ho);
    const int hi = ho * g.stride - g.pad_top + ky, wi = wo * g.stride - g.pad_left + kx;
    const bool in = hi >= 0 && hi < g.H && wi >= 0 && wi < g.W;
    store(cols + e, in ? inp[((b * g.H + hi) * g.W + wi) * g.Cin + ci] : 0.0f);
  }
}

__global__ void upsample_kernel(float* out, const float* inp, int H, int W, int C, int s, int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n; e += int64_t(gridDim.x) * blockDim.x) {
    const int c = int(e % C);
    const int64_t x = (e / C) % (int64_t(W) * s), y = (e / (C * int64_t(W) * s)) % (int64_t(H) * s);
    const int64_t b = e / (C * int64_t(W) * s * H * s);
    out[e] = inp[((b * H + y / s) * W + x / s) * C + c];
  }
}

}  // namespace

void conv2d_forward(float* out, const float* inp, const void* weight, DType wdtype, const float* bias, int B, int H,
                    int W, int Cin, int Cout, int k, int stride, int pad_top, int pad_left, int pad_bottom,
                    int pad_right, bool accumulate) {
  if (k < 1 || stride < 1 || Cin < 1 || Cout < 1 || pad_top < 0 || pad_left < 0 || pad_bottom < 0 || pad_right < 0 ||
      H + pad_top + pad_bottom < k || W + pad_left + pad_right < k)
    throw_invalid("conv2d_forward: bad geometry");
  const ConvGeom g{H, W, Cin, k, stride, pad_top, pad_left, (H + pad_top + pad_bottom - k) / stride + 1,
                   (W + pad_left + pad_right - k) / stride + 1};
  const int64_t rows = int64_t(B) * g.Ho * g.Wo, K = int64_t(k) * k * Cin;
  if (rows <= 0) return;
  const int64_t slice = std::max<int64_t>(1, std::min<int64_t>(rows, (int64_t(64) << 20) / K));
  const bool cols16 = reduced_precision() && (wdtype == DType::BF16 || wdtype == DType::F16);
  void* cols = scratch(kScratchE, size_t(slice * K) * (cols16 ? 2 : 4));
  for (int64_t r0 = 0; r0 < rows; r0 += slice) {
    const int64_t m = std::min(slice, rows - r0);
    const unsigned blocks = blocks_for(m * K, 256);
    if (!cols16) {
      auto* c32 = static_cast<float*>(cols);
      im2col_kernel<float><<<blocks, 256, 0, stream()>>>(c32, inp, g, r0, m);
      check_launch("im2col_kernel");
      linear_forward(out + r0 * Cout, c32, weight, wdtype, bias, int(m), int(K), Cout, accumulate);
      continue;
    }
    if (wdtype == DType::BF16)
      im2col_kernel<__nv_bfloat16><<<blocks, 256, 0, stream()>>>(static_cast<__nv_bfloat16*>(cols), inp, g, r0, m);
    else
      im2col_kernel<__half><<<blocks, 256, 0, stream()>>>(static_cast<__half*>(cols), inp, g, r0, m);
    check_launch("im2col_kernel");
    linear_from_16(out + r0 * Cout, cols, weight, wdtype, bias, int(m), int(K), Cout, accumulate);
  }
}

void upsample_nearest_forward(float* out, const float* inp, int B, int H, int W, int C, int scale) {
  if (scale < 1) throw_invalid("upsample_nearest_forward: scale < 1");
  const int64_t n = int64_t(B) * H * scale * W * scale * C;
  if (n <= 0) return;
  upsample_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(out, inp, H, W, C, scale, n);
  check_launch("upsample_kernel");
}

}  // namespace dimba::cu
