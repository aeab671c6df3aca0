// LayerNorm and RMSNorm (one warp per row, two passes over the row for the variance, as
// exact as the CPU's), their backward passes, and GroupNorm (one block per sample and group,
// double sums: a 1024px VAE group holds millions of values).
// defines: layernorm_forward, rmsnorm_forward, layernorm_backward, rmsnorm_backward,
//          group_norm_forward, rmsnorm_to_bf16, layernorm_modulate_to_bf16
#include "backend/cuda/activations.h"
#include "backend/cuda/context.h"
#include "backend/cuda/ops.h"

namespace dimba::cu {
namespace {

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ double warp_sum_d(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

constexpr int kRowsPerBlock = 8;  // warps per block, one row each

// The mean and 1 / std of one row of C, by its warp (every lane gets both).
__device__ __forceinline__ void row_moments(const float* x, int C, float eps, float& m, float& rs) {
  const int lane = threadIdx.x;
  float s = 0.0f;
  for (int i = lane; i < C; i += 32) s += x[i];
  m = warp_sum(s) / C;
  float v = 0.0f;
  for (int i = lane; i < C; i += 32) {
    const float d = x[i] - m;
    v += d * d;
  }
  rs = rsqrtf(warp_sum(v) / C + eps);
}

__global__ void layernorm_kernel(float* out, float* mean_out, float* rstd_out, const float* inp, const float* w,
                                 const float* b, int64_t rows, int C, float eps) {
  const int64_t r = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.y;
  if (r >= rows) return;
  const int lane = threadIdx.x;
  const float* x = inp + r * C;
  float m, rs;
  row_moments(x, C, eps, m, rs);
  float* o = out + r * C;  // may alias x: every lane has read its values above
  for (int i = lane; i < C; i += 32) {
    float y = (x[i] - m) * rs;
    if (w) y *= w[i];
    if (b) y += b[i];
    o[i] = y;
  }
  if (lane == 0) {
    if (mean_out) mean_out[r] = m;
    if (rstd_out) rstd_out[r] = rs;
  }
}

template <class Out>
__global__ void rmsnorm_kernel(Out* out, float* rstd_out, const float* inp, const float* w, int64_t rows, int C,
                               float eps) {
  const int64_t r = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.y;
  if (r >= rows) return;
  const int lane = threadIdx.x;
  const float* x = inp + r * C;
  float s = 0.0f;
  for (int i = lane; i < C; i += 32) s += x[i] * x[i];
  const float rs = rsqrtf(warp_sum(s) / C + eps);
  Out* o = out + r * C;
  for (int i = lane; i < C; i += 32) store(o + i, w ? x[i] * rs * w[i] : x[i] * rs);
  if (lane == 0 && rstd_out) rstd_out[r] = rs;
}

// dinp += rstd * (dxh - mean(dxh) - xh * mean(dxh * xh)), dxh = g * w; mean null: RMSNorm
// (xh = x * rstd, no mean(dxh) term).
__global__ void norm_back_rows_kernel(float* dinp, const float* dout, const float* inp, const float* w,
                                      const float* mean, const float* rstd, int64_t rows, int C) {
  const int64_t r = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.y;
  if (r >= rows) return;
  const int lane = threadIdx.x;
  const float* x = inp + r * C;
  const float* g = dout + r * C;
  const double m = mean ? mean[r] : 0.0, rs = rstd[r];
  double s1 = 0.0, s2 = 0.0;
  for (int i = lane; i < C; i += 32) {
    const double xh = (double(x[i]) - m) * rs;
    const double dxh = double(g[i]) * (w ? w[i] : 1.0f);
    s1 += dxh;
    s2 += dxh * xh;
  }
  s1 = mean ? warp_sum_d(s1) / C : 0.0;
  s2 = warp_sum_d(s2) / C;
  float* dx = dinp + r * C;
  for (int i = lane; i < C; i += 32) {
    const double xh = (double(x[i]) - m) * rs;
    const double dxh = double(g[i]) * (w ? w[i] : 1.0f);
    dx[i] += float(rs * (dxh - s1 - xh * s2));
  }
}

// dweight[c] += sum_r g * xh, dbias[c] += sum_r g: 32 columns x 8 row lanes per block.
__global__ void norm_back_columns_kernel(float* dweight, float* dbias, const float* dout, const float* inp,
                                         const float* mean, const float* rstd, int64_t rows, int C) {
  __shared__ double shw[8][33], shb[8][33];
  const int c = blockIdx.x * 32 + threadIdx.x;
  double sw = 0.0, sb = 0.0;
  if (c < C)
    for (int64_t r = threadIdx.y; r < rows; r += 8) {
      const double g = dout[r * C + c];
      sw += g * (double(inp[r * C + c]) - (mean ? mean[r] : 0.0f)) * rstd[r];
      sb += g;
    }
  shw[threadIdx.y][threadIdx.x] = sw;
  shb[threadIdx.y][threadIdx.x] = sb;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    for (int j = 1; j < 8; ++j) sw += shw[j][threadIdx.x], sb += shb[j][threadIdx.x];
    if (dweight) dweight[c] += float(sw);
    if (dbias) dbias[c] += float(sb);
  }
}

// Per (sample, group) mean and rstd over HW positions x cg channels (channels-last).
__global__ void group_stats_kernel(float* mean, float* rstd, const float* inp, int64_t HW, int C, int G, float eps) {
  __shared__ double sh[32];
  const int b = blockIdx.y, g = blockIdx.x, cg = C / G;
  const int64_t n = HW * cg;
  const float* base = inp + int64_t(b) * HW * C + int64_t(g) * cg;
  auto block_sum = [&](double v) {
    v = warp_sum_d(v);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    double t = 0.0;
    for (int i = 0; i < int(blockDim.x / 32); ++i) t += sh[i];
    return t;
  };
  double s = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += base[(i / cg) * C + i % cg];
  const double m = block_sum(s) / double(n);
  double v = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const double d = base[(i / cg) * C + i % cg] - m;
    v += d * d;
  }
  const double var = block_sum(v) / double(n);
  if (threadIdx.x == 0) {
    mean[b * G + g] = float(m);
    rstd[b * G + g] = float(1.0 / sqrt(var + double(eps)));
  }
}

__global__ void group_apply_kernel(float* out, const float* inp, const float* mean, const float* rstd,
                                   const float* w, const float* bias, int64_t HW, int C, int G, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int c = int(i % C);
    const int64_t b = i / (HW * C);
    const int g = c / (C / G);
    float y = (inp[i] - mean[b * G + g]) * rstd[b * G + g];
    if (w) y *= w[c];
    if (bias) y += bias[c];
    out[i] = y;
  }
}

// out = LN(x) (1 + scale_b) + shift_b in bf16 over B samples of T rows: what the composition
// (LayerNorm with the weight 1 + scale_b) computes, in one launch.
__global__ void layernorm_modulate_bf16_kernel(__nv_bfloat16* out, const float* inp, const float* shift,
                                               const float* scale, int64_t mod_stride, int64_t T, int64_t rows, int C,
                                               float eps) {
  const int64_t r = blockIdx.x * int64_t(kRowsPerBlock) + threadIdx.y;
  if (r >= rows) return;
  const float* x = inp + r * C;
  const float *sh = shift + (r / T) * mod_stride, *sc = scale + (r / T) * mod_stride;
  float m, rs;
  row_moments(x, C, eps, m, rs);
  for (int i = threadIdx.x; i < C; i += 32) {
    float y = (x[i] - m) * rs;
    y *= sc[i] + 1.0f;
    y += sh[i];
    store(out + r * C + i, y);
  }
}

dim3 row_grid(int64_t rows) { return dim3(unsigned((rows + kRowsPerBlock - 1) / kRowsPerBlock)); }

template <class Out>
void rmsnorm(Out* out, float* rstd, const float* inp, const float* weight, int64_t rows, int C, float eps) {
  if (rows <= 0) return;
  if (C < 1) throw_invalid("rmsnorm_forward: C < 1");
  rmsnorm_kernel<Out><<<row_grid(rows), dim3(32, kRowsPerBlock), 0, stream()>>>(out, rstd, inp, weight, rows, C, eps);
  check_launch("rmsnorm_kernel");
}

}  // namespace

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                       int64_t rows, int C, float eps) {
  if (rows <= 0) return;
  if (C < 1) throw_invalid("layernorm_forward: C < 1");
  layernorm_kernel<<<row_grid(rows), dim3(32, kRowsPerBlock), 0, stream()>>>(out, mean, rstd, inp, weight, bias, rows,
                                                                            C, eps);
  check_launch("layernorm_kernel");
}

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t rows, int C, float eps) {
  rmsnorm(out, rstd, inp, weight, rows, C, eps);
}

void layernorm_modulate_to_bf16(__nv_bfloat16* out, const float* x, const float* shift, const float* scale,
                                int64_t mod_stride, int B, int64_t T, int C, float eps) {
  const int64_t rows = int64_t(B) * T;
  if (rows <= 0) return;
  if (C < 1) throw_invalid("layernorm_modulate: C < 1");
  layernorm_modulate_bf16_kernel<<<row_grid(rows), dim3(32, kRowsPerBlock), 0, stream()>>>(out, x, shift, scale,
                                                                                          mod_stride, T, rows, C, eps);
  check_launch("layernorm_modulate_bf16_kernel");
}

void rmsnorm_to_bf16(__nv_bfloat16* out, const float* inp, const float* weight, int64_t rows, int C, float eps) {
  rmsnorm(out, nullptr, inp, weight, rows, C, eps);
}

void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t rows, int C) {
  if (rows <= 0 || C < 1) return;
  if (dweight || dbias) {
    norm_back_columns_kernel<<<(C + 31) / 32, dim3(32, 8), 0, stream()>>>(dweight, dbias, dout, inp, mean, rstd,
                                                                         rows, C);
    check_launch("norm_back_columns_kernel");
  }
  if (dinp) {
    norm_back_rows_kernel<<<row_grid(rows), dim3(32, kRowsPerBlock), 0, stream()>>>(dinp, dout, inp, weight, mean,
                                                                                   rstd, rows, C);
    check_launch("norm_back_rows_kernel");
  }
}

void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int64_t rows, int C) {
  if (rows <= 0 || C < 1) return;
  if (dweight) {
    norm_back_columns_kernel<<<(C + 31) / 32, dim3(32, 8), 0, stream()>>>(dweight, nullptr, dout, inp, nullptr, rstd,
                                                                         rows, C);
    check_launch("norm_back_columns_kernel");
  }
  if (dinp) {
    norm_back_rows_kernel<<<row_grid(rows), dim3(32, kRowsPerBlock), 0, stream()>>>(dinp, dout, inp, weight, nullptr,
                                                                                   rstd, rows, C);
    check_launch("norm_back_rows_kernel");
  }
}

void group_norm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                        const float* bias, int B, int64_t HW, int C, int G, float eps) {
  if (G < 1 || C % G != 0)
    throw_invalid("group_norm_forward: C=" + std::to_string(C) + " is not a multiple of G=" + std::to_string(G));
  if (B <= 0 || HW <= 0) return;
  float* stats = static_cast<float*>(scratch(kScratchD, size_t(B) * G * 2 * 4));
  float* m = mean ? mean : stats;
  float* r = rstd ? rstd : stats + size_t(B) * G;
  group_stats_kernel<<<dim3(G, B), 256, 0, stream()>>>(m, r, inp, HW, C, G, eps);
  check_launch("group_stats_kernel");
  const int64_t n = int64_t(B) * HW * C;
  group_apply_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(out, inp, m, r, weight, bias, HW, C, G, n);
  check_launch("group_apply_kernel");
}

}  // namespace dimba::cu
