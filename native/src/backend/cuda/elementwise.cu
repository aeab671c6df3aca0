// Pointwise ops, adaLN modulation and gated residuals, with their backward passes. Grid-stride
// loops with int64 indices (a 1024px batch-2 MLP hidden is 38M elements); the maths is the
// CPU's in full precision (activations.h), so the op test holds them to 1e-5.
// The backward reductions over tokens (dshift, dscale, dgate, drow) sum per column in a
// [32 columns x 8 token lanes] block, then one atomicAdd-free write per column and sample.
// defines: the elementwise, modulate and gated-residual ops of ops.h (forward and backward),
//          gated_residual_to_bf16
#include <algorithm>
#include <type_traits>

#include "backend/cuda/activations.h"
#include "backend/cuda/context.h"
#include "backend/cuda/ops.h"

namespace dimba::cu {
namespace {

#define GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

__global__ void gelu_kernel(float* out, const float* inp, int64_t n) {
  GRID_STRIDE(i, n) out[i] = gelu_tanh(inp[i]);
}
template <class T>
__global__ void gelu_to_16_kernel(T* out, const float* inp, int64_t n) {
  GRID_STRIDE(i, n) {
    if constexpr (std::is_same_v<T, __half>)
      out[i] = __float2half_rn(gelu_tanh(inp[i]));
    else
      out[i] = __float2bfloat16_rn(gelu_tanh(inp[i]));
  }
}
__global__ void silu_kernel(float* out, const float* inp, int64_t n) {
  GRID_STRIDE(i, n) out[i] = silu(inp[i]);
}
__global__ void softplus_kernel(float* out, const float* inp, int64_t n) {
  GRID_STRIDE(i, n) out[i] = softplus(inp[i]);
}
__global__ void add_kernel(float* out, const float* a, const float* b, int64_t n) {
  GRID_STRIDE(i, n) out[i] = a[i] + b[i];
}
__global__ void mul_kernel(float* out, const float* a, const float* b, int64_t n) {
  GRID_STRIDE(i, n) out[i] = a[i] * b[i];
}
__global__ void add_row_kernel(float* out, const float* a, const float* row, int64_t rows, int C) {
  GRID_STRIDE(i, rows * C) out[i] = a[i] + row[i % C];
}
__global__ void copy_rows_kernel(float* out, const float* inp, int64_t rows, int C, int64_t out_stride,
                                 int64_t in_stride) {
  GRID_STRIDE(i, rows * C) {
    const int64_t r = i / C, c = i % C;
    out[r * out_stride + c] = inp[r * in_stride + c];
  }
}
// The per-sample row ops run a block per row (grid-stride over the B*T rows), threads over the
// C columns: the sample index is one division per row, not per element.
// out[b,t,c] = inp * (1 + scale[b*stride + c]) + shift[b*stride + c]
__global__ void modulate_kernel(float* out, const float* inp, const float* shift, const float* scale, int64_t T,
                                int C, int64_t stride, int64_t rows) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t b = r / T, o = r * C;
    const float* sh = shift + b * stride;
    const float* sc = scale + b * stride;
    for (int c = threadIdx.x; c < C; c += blockDim.x) out[o + c] = inp[o + c] * (1.0f + sc[c]) + sh[c];
  }
}
// x16 (where set): the new x rounded to bf16 too, for a Linear that reads it next.
__global__ void gated_residual_kernel(float* x, __nv_bfloat16* x16, const float* y, const float* gate, int64_t T,
                                      int C, int64_t stride, int64_t rows) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const int64_t o = r * C;
    const float* g = gate ? gate + (r / T) * stride : nullptr;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
      const float v = g ? x[o + c] + g[c] * y[o + c] : x[o + c] + y[o + c];
      x[o + c] = v;
      if (x16) store(x16 + o + c, v);
    }
  }
}

__global__ void gelu_back_kernel(float* dinp, const float* dout, const float* inp, int64_t n) {
  const double k = 0.7978845608028654;
  GRID_STRIDE(i, n) {
    const double x = inp[i];
    const double th = tanh(k * (x + 0.044715 * x * x * x));
    const double d = 0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * k * (1.0 + 3.0 * 0.044715 * x * x);
    dinp[i] += float(dout[i] * d);
  }
}
__global__ void silu_back_kernel(float* dinp, const float* dout, const float* inp, int64_t n) {
  GRID_STRIDE(i, n) {
    const float x = inp[i], s = sigmoid(x);
    dinp[i] += dout[i] * s * (1.0f + x * (1.0f - s));
  }
}
__global__ void softplus_back_kernel(float* dinp, const float* dout, const float* inp, int64_t n) {
  GRID_STRIDE(i, n) {
    const float x = inp[i];
    dinp[i] += dout[i] * (x > 20.0f ? 1.0f : sigmoid(x));
  }
}
__global__ void add_back_kernel(float* da, float* db, const float* dout, int64_t n) {
  GRID_STRIDE(i, n) {
    if (da) da[i] += dout[i];
    if (db) db[i] += dout[i];
  }
}

// Per-column sums over T rows of sample b = blockIdx.y, columns blockIdx.x*32 + threadIdx.x;
// 8 row lanes (threadIdx.y) then a shared-memory fold. mode 0: sum g (and dinp/dy updates
// along the way), see the callers for what `a`/`b` are.
//   modulate:        s0 = sum g,     s1 = sum g*x;  dinp += g*(1+scale)
//   gated residual:  s1 = sum g*y;                  dy += g*gate (or g)
//   add_row:         s0 = sum g;                    da += g (B = 1, T = rows)
struct ColumnSums {
  float* dx;            // per-element gradient to accumulate (may be null)
  const float* factor;  // per-(b, column) factor for dx: (1 + v) when plus_one, else v; null: 1
  bool plus_one;
  const float* other;   // the tensor multiplied into s1 (x or y), may be null
  float* s0;            // += sum g at [b*stride + c] (may be null)
  float* s1;            // += sum g*other at [b*stride + c] (may be null)
  int64_t stride;
};

__global__ void column_sums_kernel(ColumnSums a, const float* g, int64_t T, int C) {
  __shared__ double sh0[8][33], sh1[8][33];
  const int c = blockIdx.x * 32 + threadIdx.x;
  const int64_t b = blockIdx.y;
  double s0 = 0.0, s1 = 0.0;
  if (c < C) {
    float f = 1.0f;
    if (a.factor) f = a.plus_one ? 1.0f + a.factor[b * a.stride + c] : a.factor[b * a.stride + c];
    for (int64_t t = threadIdx.y; t < T; t += 8) {
      const int64_t i = (b * T + t) * C + c;
      const float gv = g[i];
      if (a.dx) a.dx[i] += gv * f;
      s0 += gv;
      if (a.other) s1 += double(gv) * a.other[i];
    }
  }
  sh0[threadIdx.y][threadIdx.x] = s0;
  sh1[threadIdx.y][threadIdx.x] = s1;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    for (int j = 1; j < 8; ++j) {
      s0 += sh0[j][threadIdx.x];
      s1 += sh1[j][threadIdx.x];
    }
    if (a.s0) a.s0[b * a.stride + c] += float(s0);
    if (a.s1) a.s1[b * a.stride + c] += float(s1);
  }
}

void column_sums(const ColumnSums& a, const float* g, int B, int64_t T, int C) {
  dim3 grid((C + 31) / 32, B), block(32, 8);
  column_sums_kernel<<<grid, block, 0, stream()>>>(a, g, T, C);
  check_launch("column_sums_kernel");
}

template <class K, class... Args>
void launch1d(K kernel, const char* name, int64_t n, Args... args) {
  if (n <= 0) return;
  kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(args...);
  check_launch(name);
}

}  // namespace

void gelu_tanh_forward(float* out, const float* inp, int64_t n) { launch1d(gelu_kernel, "gelu", n, out, inp, n); }
void gelu_tanh_to_16(void* dst, DType to, const float* src, int64_t n) {
  if (to == DType::BF16)
    launch1d(gelu_to_16_kernel<__nv_bfloat16>, "gelu_to_bf16", n, static_cast<__nv_bfloat16*>(dst), src, n);
  else
    launch1d(gelu_to_16_kernel<__half>, "gelu_to_f16", n, static_cast<__half*>(dst), src, n);
}
void silu_forward(float* out, const float* inp, int64_t n) { launch1d(silu_kernel, "silu", n, out, inp, n); }
void softplus_forward(float* out, const float* inp, int64_t n) {
  launch1d(softplus_kernel, "softplus", n, out, inp, n);
}
void add_forward(float* out, const float* a, const float* b, int64_t n) { launch1d(add_kernel, "add", n, out, a, b, n); }
void mul_forward(float* out, const float* a, const float* b, int64_t n) { launch1d(mul_kernel, "mul", n, out, a, b, n); }
void add_row_forward(float* out, const float* a, const float* row, int64_t rows, int C) {
  launch1d(add_row_kernel, "add_row", rows * C, out, a, row, rows, C);
}
void copy_rows_forward(float* out, const float* inp, int64_t rows, int C, int64_t out_stride, int64_t in_stride) {
  if (out_stride < C || in_stride < C)
    throw_invalid("copy_rows_forward: strides " + std::to_string(out_stride) + "/" + std::to_string(in_stride) +
                  " narrower than C=" + std::to_string(C));
  launch1d(copy_rows_kernel, "copy_rows", rows * C, out, inp, rows, C, out_stride, in_stride);
}
void modulate_forward(float* out, const float* inp, const float* shift, const float* scale, int B, int64_t T, int C,
                      int64_t mod_stride) {
  const int64_t rows = int64_t(B) * T;
  if (rows <= 0 || C <= 0) return;
  modulate_kernel<<<unsigned(std::min<int64_t>(rows, 65536)), 256, 0, stream()>>>(out, inp, shift, scale, T, C,
                                                                                 mod_stride, rows);
  check_launch("modulate_kernel");
}
void gated_residual_forward(float* x, const float* y, const float* gate, int B, int64_t T, int C,
                            int64_t gate_stride) {
  gated_residual_to_bf16(x, nullptr, y, gate, B, T, C, gate_stride);
}

void gated_residual_to_bf16(float* x, __nv_bfloat16* x16, const float* y, const float* gate, int B, int64_t T, int C,
                            int64_t gate_stride) {
  const int64_t rows = int64_t(B) * T;
  if (rows <= 0 || C <= 0) return;
  gated_residual_kernel<<<unsigned(std::min<int64_t>(rows, 65536)), 256, 0, stream()>>>(x, x16, y, gate, T, C,
                                                                                       gate_stride, rows);
  check_launch("gated_residual_kernel");
}

void gelu_tanh_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  launch1d(gelu_back_kernel, "gelu_back", n, dinp, dout, inp, n);
}
void silu_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  launch1d(silu_back_kernel, "silu_back", n, dinp, dout, inp, n);
}
void softplus_backward(float* dinp, const float* dout, const float* inp, int64_t n) {
  launch1d(softplus_back_kernel, "softplus_back", n, dinp, dout, inp, n);
}
void add_backward(float* da, float* db, const float* dout, int64_t n) {
  launch1d(add_back_kernel, "add_back", n, da, db, dout, n);
}
void add_row_backward(float* da, float* drow, const float* dout, int64_t rows, int C) {
  if (rows <= 0 || C <= 0) return;
  column_sums({da, nullptr, false, nullptr, drow, nullptr, 0}, dout, 1, rows, C);
}
void modulate_backward(float* dinp, float* dshift, float* dscale, const float* dout, const float* inp,
                       const float* scale, int B, int64_t T, int C, int64_t mod_stride) {
  if (B <= 0 || T <= 0 || C <= 0) return;
  column_sums({dinp, scale, true, inp, dshift, dscale, mod_stride}, dout, B, T, C);
}
void gated_residual_backward(float* dy, float* dgate, const float* dx, const float* y, const float* gate, int B,
                             int64_t T, int C, int64_t gate_stride) {
  if (B <= 0 || T <= 0 || C <= 0) return;
  column_sums({dy, gate, false, y, nullptr, gate ? dgate : nullptr, gate_stride}, dx, B, T, C);
}

}  // namespace dimba::cu
