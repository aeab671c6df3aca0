// Patches and the sinusoid tables. patch_embed is an im2col into scratch then linear_forward
// (so it runs on cuBLAS in the weight's dtype); its backward is sgemms and a col2im (patches do
// not overlap, so every image element has exactly one column entry: no atomics).
// sincos_pos_embed_2d is specified in float64 (MODEL.md 2.2) and depends only on its sizes:
// computed on the host by the CPU op once per shape, kept on the device, and copied from there
// on every later call. timestep_embedding reads device timesteps, so it runs on the device in
// double (CUDA's double exp/sin/cos are within 1-2 ulp of glibc's, far below float rounding).
// defines: patch_embed_forward, unpatchify_forward, patch_embed_backward, unpatchify_backward,
//          sincos_pos_embed_2d, timestep_embedding_forward
#include <mutex>
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cuda/context.h"
#include "backend/cuda/ops.h"

namespace dimba::cu {
namespace {

#define GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// cols[(b*h + i)*w + j][(c*p + a)*p + bb] = img[b, c, i*p + a, j*p + bb]; to_image: the reverse
// (img += cols).
__global__ void im2patch_kernel(float* cols, float* img_grad, const float* img, const float* cols_grad, int B, int Cin,
                                int H, int W, int p, int64_t n) {
  GRID_STRIDE(e, n) {  // e indexes the image [B, Cin, H, W]
    const int x = int(e % W), y = int((e / W) % H), c = int((e / (int64_t(W) * H)) % Cin);
    const int64_t b = e / (int64_t(W) * H * Cin);
    const int h = H / p, w = W / p, K = Cin * p * p;
    const int i = y / p, a = y % p, j = x / p, bb = x % p;
    const int64_t ci = ((b * h + i) * w + j) * K + (c * p + a) * p + bb;
    if (cols) cols[ci] = img[e];
    if (img_grad) img_grad[e] += cols_grad[ci];
  }
}

// img[b, c, i*p + a, j*p + bb] (+)= tokens[(b*h + i)*w + j][(a*p + bb)*Cout + c]
__global__ void unpatchify_kernel(float* img, float* dtokens, const float* tokens, const float* dimg, int B, int Cout,
                                  int h, int w, int p, int64_t n) {
  GRID_STRIDE(e, n) {
    const int W = w * p, H = h * p;
    const int x = int(e % W), y = int((e / W) % H), c = int((e / (int64_t(W) * H)) % Cout);
    const int64_t b = e / (int64_t(W) * H * Cout);
    const int64_t ti = ((b * h + y / p) * w + x / p) * (int64_t(p) * p * Cout) + ((y % p) * p + x % p) * Cout + c;
    if (img) img[e] = tokens[ti];
    if (dtokens) dtokens[ti] += dimg[e];
  }
}

__global__ void timestep_kernel(float* out, const float* t, int B, int dim, double log_max_period) {
  const int half = dim / 2;
  GRID_STRIDE(e, int64_t(B) * half) {
    const int64_t b = e / half;
    const int i = int(e % half);
    const double f = exp(-log_max_period * double(i) / double(half));
    const double a = double(t[b]) * f;
    out[b * dim + i] = float(cos(a));
    out[b * dim + half + i] = float(sin(a));
  }
}

void check_patch(const char* op, int B, int Cin, int H, int W, int p) {
  if (p < 1 || H % p || W % p || B < 0 || Cin < 1)
    throw_invalid(std::string(op) + ": image " + std::to_string(H) + "x" + std::to_string(W) +
                  " is not a multiple of patch " + std::to_string(p));
}

struct PosCache {
  std::mutex mu;
  int C = 0, h = 0, w = 0;
  double base = 0, interp = 0;
  float* dev = nullptr;
};

}  // namespace

void patch_embed_forward(float* out, const float* img, const void* weight, DType wdtype, const float* bias, int B,
                         int Cin, int H, int W, int p, int C) {
  check_patch("patch_embed_forward", B, Cin, H, W, p);
  const int64_t n = int64_t(B) * Cin * H * W, rows = int64_t(B) * (H / p) * (W / p);
  if (n == 0) return;
  float* cols = static_cast<float*>(scratch(kScratchE, size_t(n) * 4));
  im2patch_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(cols, nullptr, img, nullptr, B, Cin, H, W, p, n);
  check_launch("im2patch_kernel");
  linear_forward(out, cols, weight, wdtype, bias, int(rows), Cin * p * p, C, false);
}

void patch_embed_backward(float* dimg, float* dweight, float* dbias, const float* dout, const float* img,
                          const float* weight, int B, int Cin, int H, int W, int p, int C) {
  check_patch("patch_embed_backward", B, Cin, H, W, p);
  const int64_t n = int64_t(B) * Cin * H * W, rows = int64_t(B) * (H / p) * (W / p);
  const int K = Cin * p * p;
  if (n == 0) return;
  if (dweight) {
    float* cols = static_cast<float*>(scratch(kScratchE, size_t(n) * 4));
    im2patch_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(cols, nullptr, img, nullptr, B, Cin, H, W, p, n);
    check_launch("im2patch_kernel");
    sgemm(true, false, C, K, int(rows), 1.0f, dout, C, cols, K, 1.0f, dweight, K);
  }
  if (dbias) add_row_backward(nullptr, dbias, dout, rows, C);
  if (dimg) {
    float* dcols = static_cast<float*>(scratch(kScratchF, size_t(n) * 4));
    sgemm(false, false, int(rows), K, C, 1.0f, dout, C, weight, K, 0.0f, dcols, K);
    im2patch_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(nullptr, dimg, nullptr, dcols, B, Cin, H, W, p, n);
    check_launch("col2im_kernel");
  }
}

void unpatchify_forward(float* img, const float* tokens, int B, int Cout, int h, int w, int p) {
  const int64_t n = int64_t(B) * Cout * h * p * w * p;
  if (n <= 0) return;
  unpatchify_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(img, nullptr, tokens, nullptr, B, Cout, h, w, p, n);
  check_launch("unpatchify_kernel");
}

void unpatchify_backward(float* dtokens, const float* dimg, int B, int Cout, int h, int w, int p) {
  const int64_t n = int64_t(B) * Cout * h * p * w * p;
  if (n <= 0) return;
  unpatchify_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(nullptr, dtokens, nullptr, dimg, B, Cout, h, w, p, n);
  check_launch("unpatchify_backward_kernel");
}

void sincos_pos_embed_2d(float* out, int C, int h, int w, double base_size, double pe_interpolation) {
  static PosCache cache;
  std::lock_guard<std::mutex> lock(cache.mu);
  const size_t n = size_t(h) * w * C;
  if (n == 0) return;
  if (!cache.dev || cache.C != C || cache.h != h || cache.w != w || cache.base != base_size ||
      cache.interp != pe_interpolation) {
    std::vector<float> host(n);
    cpu::sincos_pos_embed_2d(host.data(), C, h, w, base_size, pe_interpolation);
    if (cache.dev) device_free(cache.dev);
    cache.dev = nullptr;
    cache.dev = static_cast<float*>(device_alloc(n * 4));
    upload(cache.dev, host.data(), n * 4);
    cache.C = C, cache.h = h, cache.w = w, cache.base = base_size, cache.interp = pe_interpolation;
  }
  check(cudaMemcpyAsync(out, cache.dev, n * 4, cudaMemcpyDeviceToDevice, stream()), "sincos_pos_embed_2d copy");
}

void timestep_embedding_forward(float* out, const float* t, int B, int dim, double max_period) {
  if (dim < 2 || dim % 2) throw_invalid("timestep_embedding_forward: dim must be even, not " + std::to_string(dim));
  if (B <= 0) return;
  timestep_kernel<<<blocks_for(int64_t(B) * dim / 2, 256), 256, 0, stream()>>>(out, t, B, dim, std::log(max_period));
  check_launch("timestep_kernel");
}

}  // namespace dimba::cu
