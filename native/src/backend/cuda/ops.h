// The CUDA ops: the signatures of backend/cpu/ops.h and gemm.h (whose comments define every
// op's semantics), on device pointers, in namespace cu. Plain C++ so that cuda_backend.cpp
// (compiled by the host compiler) can fill the table; the definitions are in the .cu files
// named beside each group. All ops run in order on the backend's one stream.
// defines: the cu:: op declarations
#pragma once
#include <cstdint>

#include "backend/composed.h"
#include "core/dtype.h"

namespace dimba::cu {

// matmul.cu (cuBLAS)
void linear_forward(float* y, const float* x, const void* w, DType wdtype, const float* bias, int M, int K, int N,
                    bool accumulate);
void linear_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w, int M, int K,
                     int N);
void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
           int ldb, float beta, float* C, int ldc);
void linear_int8_forward(float* y, const float* x, const int8_t* w, const float* scale, const float* bias, int M,
                         int K, int N, bool accumulate);
void mlp_forward(float* y, float* hidden, const float* x, const void* w1, const float* b1, const void* w2,
                 const float* b2, DType wdtype, int M, int K, int H, int N);

// norms.cu
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight, const float* bias,
                       int64_t rows, int C, float eps);
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t rows, int C, float eps);
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t rows, int C);
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int64_t rows, int C);
void group_norm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                        const float* bias, int B, int64_t HW, int C, int G, float eps);

// elementwise.cu
void modulate_forward(float* out, const float* inp, const float* shift, const float* scale, int B, int64_t T, int C,
                      int64_t mod_stride);
void gated_residual_forward(float* x, const float* y, const float* gate, int B, int64_t T, int C,
                            int64_t gate_stride);
void modulate_backward(float* dinp, float* dshift, float* dscale, const float* dout, const float* inp,
                       const float* scale, int B, int64_t T, int C, int64_t mod_stride);
void gated_residual_backward(float* dy, float* dgate, const float* dx, const float* y, const float* gate, int B,
                             int64_t T, int C, int64_t gate_stride);
void gelu_tanh_forward(float* out, const float* inp, int64_t n);
void silu_forward(float* out, const float* inp, int64_t n);
void softplus_forward(float* out, const float* inp, int64_t n);
void add_forward(float* out, const float* a, const float* b, int64_t n);
void add_row_forward(float* out, const float* a, const float* row, int64_t rows, int C);
void mul_forward(float* out, const float* a, const float* b, int64_t n);
void copy_rows_forward(float* out, const float* inp, int64_t rows, int C, int64_t out_stride, int64_t in_stride);
void gelu_tanh_backward(float* dinp, const float* dout, const float* inp, int64_t n);
void silu_backward(float* dinp, const float* dout, const float* inp, int64_t n);
void softplus_backward(float* dinp, const float* dout, const float* inp, int64_t n);
void add_backward(float* da, float* db, const float* dout, int64_t n);
void add_row_backward(float* da, float* drow, const float* dout, int64_t rows, int C);

// attention.cu
void self_attention_forward(float* y, float* qkv, float* a, const float* x, const void* w_qkv, const float* b_qkv,
                            const void* w_proj, const float* b_proj, DType wdtype, int B, int N, int C, int H);
void cross_attention_forward(float* x, float* q, float* kv, float* a, const float* ctx, const int* ctx_lens,
                             const void* w_q, const float* b_q, const void* w_kv, const float* b_kv, const void* w_proj,
                             const float* b_proj, DType wdtype, int B, int N, int L, int C, int H);
void attention_forward(float* out, const float* q, const float* k, const float* v, const int* k_lens, int B, int Tq,
                       int Tk, int H, int hd, int64_t q_stride, int64_t kv_stride, int64_t out_stride);
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const int* k_lens, int B, int Tq, int Tk, int H, int hd, int64_t q_stride,
                        int64_t kv_stride, int64_t out_stride);
void attention_bias_forward(float* out, const float* q, const float* k, const float* v, const float* bias,
                            const int32_t* key_mask, int B, int Tq, int Tk, int H, int hd, int64_t q_stride,
                            int64_t kv_stride, int64_t out_stride);

// scan.cu (the Mamba pieces)
void conv1d_causal_depthwise_silu_forward(float* out, const float* inp, const float* weight, const float* bias,
                                          int T, int D, int K, int64_t in_stride, bool reverse);
void conv1d_causal_depthwise_forward(float* out, const float* inp, const float* weight, const float* bias, int T,
                                     int D, int K, int64_t in_stride, bool reverse);
void conv1d_causal_depthwise_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                                      const float* weight, int T, int D, int K, int64_t in_stride, bool reverse);
void selective_scan_forward(float* y, const float* u, const float* delta, const float* A, const float* Bm,
                            const float* Cm, const float* Dskip, const float* z, int T, int D, int N,
                            int64_t bc_stride, int64_t z_stride, bool reverse, bool accumulate, bool delta_softplus);
void selective_scan_backward(float* du, float* ddelta, float* dA, float* dBm, float* dCm, float* dDskip, float* dz,
                             const float* dy, const float* u, const float* delta, const float* A, const float* Bm,
                             const float* Cm, const float* Dskip, const float* z, int T, int D, int N,
                             int64_t bc_stride, int64_t z_stride, int64_t dbc_stride, int64_t dz_stride,
                             bool reverse);
// The attention block with its steps handing each other bf16 (tensor-core mode, bf16 weights,
// the mma.sync attention, head width a multiple of 8 up to 128, text tokens); false, with
// nothing run, elsewhere (attention.cu).
bool dimba_block_bf16(float* x, const DimbaBlockScratch& s, const float* ctx, const int* ctx_lens,
                      const float* t0, const DimbaBlock& w, int B, int N, int L);
// The Mamba block with its steps handing each other bf16 (tensor-core mode, bf16 weights, the
// one-pass scan); false, with nothing run, elsewhere: cuda_backend.cpp then composes the ops.
bool mamba_block_bf16(float* out, const MambaBlockScratch& s, const float* residual, const MambaBlock& m,
                      int B, int N);

// embed.cu (patches and the sinusoid tables)
void patch_embed_forward(float* out, const float* img, const void* weight, DType wdtype, const float* bias, int B,
                         int Cin, int H, int W, int p, int C);
void unpatchify_forward(float* img, const float* tokens, int B, int Cout, int h, int w, int p);
void patch_embed_backward(float* dimg, float* dweight, float* dbias, const float* dout, const float* img,
                          const float* weight, int B, int Cin, int H, int W, int p, int C);
void unpatchify_backward(float* dtokens, const float* dimg, int B, int Cout, int h, int w, int p);
void sincos_pos_embed_2d(float* out, int C, int h, int w, double base_size, double pe_interpolation);
void timestep_embedding_forward(float* out, const float* t, int B, int dim, double max_period);

// vae.cu (channels-last images)
void conv2d_forward(float* out, const float* inp, const void* weight, DType wdtype, const float* bias, int B, int H,
                    int W, int Cin, int Cout, int k, int stride, int pad_top, int pad_left, int pad_bottom,
                    int pad_right, bool accumulate);
void upsample_nearest_forward(float* out, const float* inp, int B, int H, int W, int C, int scale);

}  // namespace dimba::cu
