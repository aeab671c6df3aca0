// The Vulkan backend's ops: the signatures and semantics of backend/cpu/ops.h and gemm.h,
// one file and one shader (shaders/<op>.comp) each; the fused inference ops (mlp_forward,
// conv1d_causal_depthwise_silu_forward, self_ and cross_attention_forward) dispatch the
// shaders of their parts. Pointers are
// Vulkan device pointers (Context::alloc). Helpers shared by the op files sit at the bottom.
// defines: the vk:: ops below (forward and backward), sum_rows_accumulate, u32, stride_groups
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>

#include "backend/vulkan/context.h"
#include "core/dtype.h"
#include "core/error.h"

namespace dimba::vk {

void add_forward(float* out, const float* a, const float* b, int64_t n);
void add_row_forward(float* out, const float* a, const float* row, int64_t rows, int C);
void mul_forward(float* out, const float* a, const float* b, int64_t n);
void copy_rows_forward(float* out, const float* inp, int64_t rows, int C, int64_t out_stride, int64_t in_stride);
void gelu_tanh_forward(float* out, const float* inp, int64_t n);
void silu_forward(float* out, const float* inp, int64_t n);
void softplus_forward(float* out, const float* inp, int64_t n);
void modulate_forward(float* out, const float* inp, const float* shift, const float* scale, int B, int64_t T,
                      int C, int64_t mod_stride);
void gated_residual_forward(float* x, const float* y, const float* gate, int B, int64_t T, int C,
                            int64_t gate_stride);
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t rows, int C, float eps);
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t rows, int C,
                     float eps);
void linear_forward(float* y, const float* x, const void* w, DType wdtype, const float* bias, int M, int K, int N,
                    bool accumulate);
void attention_forward(float* out, const float* q, const float* k, const float* v, const int* k_lens, int B,
                       int Tq, int Tk, int H, int hd, int64_t q_stride, int64_t kv_stride, int64_t out_stride);
void conv1d_causal_depthwise_silu_forward(float* out, const float* inp, const float* weight, const float* bias,
                                          int T, int D, int K, int64_t in_stride, bool reverse);
void conv1d_causal_depthwise_forward(float* out, const float* inp, const float* weight, const float* bias,
                                     int T, int D, int K, int64_t in_stride, bool reverse);
void selective_scan_forward(float* y, const float* u, const float* delta, const float* A, const float* Bm,
                            const float* Cm, const float* Dskip, const float* z, int T, int D, int N,
                            int64_t bc_stride, int64_t z_stride, bool reverse, bool accumulate, bool delta_softplus);
void patch_embed_forward(float* out, const float* img, const void* weight, DType wdtype, const float* bias, int B,
                         int Cin, int H, int W, int p, int C);
void unpatchify_forward(float* img, const float* tokens, int B, int Cout, int h, int w, int p);
void sincos_pos_embed_2d(float* out, int C, int h, int w, double base_size, double pe_interpolation);
void timestep_embedding_forward(float* out, const float* t, int B, int dim, double max_period);
void group_norm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                        const float* bias, int B, int64_t HW, int C, int G, float eps);
void upsample_nearest_forward(float* out, const float* inp, int B, int H, int W, int C, int scale);
void attention_bias_forward(float* out, const float* q, const float* k, const float* v, const float* bias,
                            const int32_t* key_mask, int B, int Tq, int Tk, int H, int hd, int64_t q_stride,
                            int64_t kv_stride, int64_t out_stride);
void linear_int8_forward(float* y, const float* x, const int8_t* w, const float* scale, const float* bias, int M,
                         int K, int N, bool accumulate);
void mlp_forward(float* y, float* hidden, const float* x, const void* w1, const float* b1, const void* w2,
                 const float* b2, DType wdtype, int M, int K, int H, int N);
void self_attention_forward(float* y, float* qkv, float* a, const float* x, const void* w_qkv, const float* b_qkv,
                            const void* w_proj, const float* b_proj, DType wdtype, int B, int N, int C, int H);
void cross_attention_forward(float* x, float* q, float* kv, float* a, const float* ctx, const int* ctx_lens,
                             const void* w_q, const float* b_q, const void* w_kv, const float* b_kv, const void* w_proj,
                             const float* b_proj, DType wdtype, int B, int N, int L, int C, int H);
void conv2d_forward(float* out, const float* inp, const void* weight, DType wdtype, const float* bias, int B, int H,
                    int W, int Cin, int Cout, int k, int stride, int pad_top, int pad_left, int pad_bottom,
                    int pad_right, bool accumulate);
void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
           int ldb, float beta, float* C, int ldc);

// Training: the backward ops (same semantics as the CPU's: gradients accumulate) and zero.
// Weight gradients are summed by one thread per output in a fixed order, never with atomics,
// so a step gives the same gradients on every run.
void zero(void* dst, size_t bytes);
void linear_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w, int M, int K,
                     int N);
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t rows, int C);
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int64_t rows, int C);
void modulate_backward(float* dinp, float* dshift, float* dscale, const float* dout, const float* inp,
                       const float* scale, int B, int64_t T, int C, int64_t mod_stride);
void gated_residual_backward(float* dy, float* dgate, const float* dx, const float* y, const float* gate, int B,
                             int64_t T, int C, int64_t gate_stride);
void gelu_tanh_backward(float* dinp, const float* dout, const float* inp, int64_t n);
void silu_backward(float* dinp, const float* dout, const float* inp, int64_t n);
void softplus_backward(float* dinp, const float* dout, const float* inp, int64_t n);
void add_backward(float* da, float* db, const float* dout, int64_t n);
void add_row_backward(float* da, float* drow, const float* dout, int64_t rows, int C);
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const int* k_lens, int B, int Tq, int Tk, int H, int hd, int64_t q_stride,
                        int64_t kv_stride, int64_t out_stride);
void conv1d_causal_depthwise_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                      const float* inp, const float* weight, int T, int D, int K,
                                      int64_t in_stride, bool reverse);
void selective_scan_backward(float* du, float* ddelta, float* dA, float* dBm, float* dCm, float* dDskip, float* dz,
                             const float* dy, const float* u, const float* delta, const float* A, const float* Bm,
                             const float* Cm, const float* Dskip, const float* z, int T, int D, int N,
                             int64_t bc_stride, int64_t z_stride, int64_t dbc_stride, int64_t dz_stride,
                             bool reverse);
void patch_embed_backward(float* dimg, float* dweight, float* dbias, const float* dout, const float* img,
                          const float* weight, int B, int Cin, int H, int W, int p, int C);
void unpatchify_backward(float* dtokens, const float* dimg, int B, int Cout, int h, int w, int p);
// out[b*out_stride + c] += sum over t < T of a[b,t,c] (* m[b,t,c] when m is not null), a and m
// [B, T, C]: the reductions the weight gradients share (sum_rows.cpp).
void sum_rows_accumulate(float* out, const float* a, const float* m, int B, int64_t T, int C, int64_t out_stride);

// A size or index that must fit the shaders' 32-bit indexing; bad input gets a typed error.
inline uint32_t u32(int64_t v, const char* op) {
  if (v < 0 || v > int64_t(UINT32_MAX))
    throw EngineError(ErrorCode::InvalidArgument,
                      std::string("vulkan ") + op + ": size " + std::to_string(v) + " out of range");
  return uint32_t(v);
}

// Groups for a grid-stride shader of 256 threads: capped at the device limit.
inline uint32_t stride_groups(Context& c, int64_t n) {
  return uint32_t(std::min<int64_t>((n + 255) / 256, c.max_groups_x()));
}

// Two-dimensional group grid for one group per row (rows beyond the x limit spill into y).
inline void row_groups(Context& c, int64_t rows, uint32_t* gx, uint32_t* gy) {
  const int64_t mx = c.max_groups_x();
  *gx = uint32_t(std::min<int64_t>(rows, mx));
  *gy = uint32_t(rows ? (rows + mx - 1) / mx : 0);
}

}  // namespace dimba::vk

