// The CPU backend's ops: the reference every other backend is checked against, op by op.
// llm.c style: each op is a plain function, arguments in the order (outputs, inputs,
// weights, sizes, options); all tensors are contiguous row-major f32 unless a dtype says
// otherwise, and in-place (out == inp) is allowed where noted. Backward ops will sit beside
// each forward in the same file with the same argument order (`d` prefix for gradients),
// which is why the norms can return their mean/rstd (pass null when not training).
// Matmuls: backend/cpu/gemm.h (linear_forward, sgemm). Threads: core/threadpool.h.
// defines: the forward ops listed below, one file each in backend/cpu/
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace dimba::cpu {

// ---- normalisation (layernorm.cpp, rmsnorm.cpp) --------------------------------------------
// out[r,:] = (inp[r,:] - mean) * rstd * weight + bias over C columns; weight/bias may be null
// (no affine). mean/rstd [rows] are written when non-null (for backward). In-place ok.
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int64_t rows, int C, float eps);
// out[r,:] = inp[r,:] * rsqrt(mean(inp[r,:]^2) + eps) * weight (weight may be null). In-place ok.
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t rows, int C,
                     float eps);
// Backward (training; gradients accumulate, llm.c argument order: d-outputs, d-weights, dout,
// then the forward's inputs and saved mean/rstd). dweight/dbias may be null.
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int64_t rows, int C);
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int64_t rows, int C);

// ---- adaLN modulation and gated residuals (modulate.cpp) ------------------------------------
// out[b,t,:] = inp[b,t,:] * (1 + scale_b) + shift_b, where shift_b = shift + b*mod_stride
// (likewise scale): the [B,6,C] adaLN table is addressed in place. In-place ok.
void modulate_forward(float* out, const float* inp, const float* shift, const float* scale, int B, int64_t T,
                      int C, int64_t mod_stride);
// x[b,t,:] += gate_b * y[b,t,:] with gate_b = gate + b*gate_stride; gate null: x += y.
void gated_residual_forward(float* x, const float* y, const float* gate, int B, int64_t T, int C,
                            int64_t gate_stride);
// Backward: dinp += dout*(1+scale_b); dshift_b/dscale_b (+)= sums over t, in the mod_stride
// layout. Gated residual: dx passes through, dy += dx*gate_b, dgate_b += sum_t dx*y.
void modulate_backward(float* dinp, float* dshift, float* dscale, const float* dout, const float* inp,
                       const float* scale, int B, int64_t T, int C, int64_t mod_stride);
void gated_residual_backward(float* dy, float* dgate, const float* dx, const float* y, const float* gate, int B,
                             int64_t T, int C, int64_t gate_stride);

// ---- activations and elementwise (activations.cpp, elementwise.cpp) --------------------------
// All over n elements, in-place ok.
void gelu_tanh_forward(float* out, const float* inp, int64_t n);  // 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3)))
void silu_forward(float* out, const float* inp, int64_t n);       // x * sigmoid(x)
void softplus_forward(float* out, const float* inp, int64_t n);   // log(1+e^x), x above 20 passes through
void add_forward(float* out, const float* a, const float* b, int64_t n);
// out[r,:] = a[r,:] + b[:] over rows x C (a per-row broadcast).
void add_row_forward(float* out, const float* a, const float* row, int64_t rows, int C);
void mul_forward(float* out, const float* a, const float* b, int64_t n);  // a * b (T5's gated GELU)
// out[r * out_stride + i] = inp[r * in_stride + i] for i < C: a contiguous copy (strides C)
// or a column slice of a wider row (Mamba's dt out of x_dbl). out and inp must not overlap.
void copy_rows_forward(float* out, const float* inp, int64_t rows, int C, int64_t out_stride, int64_t in_stride);
// Backward (gradients accumulate: dinp += dout * f'(inp), inp the saved pre-activation).
void gelu_tanh_backward(float* dinp, const float* dout, const float* inp, int64_t n);
void silu_backward(float* dinp, const float* dout, const float* inp, int64_t n);
void softplus_backward(float* dinp, const float* dout, const float* inp, int64_t n);
void add_backward(float* da, float* db, const float* dout, int64_t n);
void add_row_backward(float* da, float* drow, const float* dout, int64_t rows, int C);

// ---- the MLP (mlp.cpp) ---------------------------------------------------------------------
// y[M,N] = gelu_tanh(x[M,K] w1[H,K]^T + b1) w2[N,H]^T + b2: PixArt's MLP and caption
// projection, both weights in wdtype; y may be x. hidden [M,H] is the op's scratch
// (overwritten); a backend may keep the hidden in another form between the two matmuls (CUDA,
// in its tensor-core mode: the weights' 16-bit type, which the second matmul reads anyway).
void mlp_forward(float* y, float* hidden, const float* x, const void* w1, const float* b1, const void* w2,
                 const float* b2, DType wdtype, int M, int K, int H, int N);

// ---- self-attention (self_attention.cpp) ---------------------------------------------------
// PixArt's attention module over the N tokens of each of B samples: qkv = x w_qkv^T + b_qkv
// ([M, 3C] rows of [q | k | v], M = B N), a = attention_forward over H heads of C / H dims,
// y = a w_proj^T + b_proj; both weights in wdtype. qkv [M, 3C] and a [M, C] are the op's
// scratch (overwritten); a may be x and y may be qkv. A backend may hand q, k, v and a between
// the three steps in another form (CUDA, in its tensor-core mode with bf16 weights: bf16, which
// the attention and the output projection read as they are).
void self_attention_forward(float* y, float* qkv, float* a, const float* x, const void* w_qkv, const float* b_qkv,
                            const void* w_proj, const float* b_proj, DType wdtype, int B, int N, int C, int H);
// PixArt's cross-attention added onto the residual stream x [B N, C]: q = x w_q^T + b_q,
// [k | v] = ctx w_kv^T + b_kv over the L context tokens of each sample ([B L, 2C]), sample b
// attending to its first ctx_lens[b] of them, then x += a w_proj^T + b_proj. q [B N, C],
// kv [B L, 2C] and a [B N, C] are the op's scratch; handed between the steps in another form
// where a backend can (as self_attention_forward).
void cross_attention_forward(float* x, float* q, float* kv, float* a, const float* ctx, const int* ctx_lens,
                             const void* w_q, const float* b_q, const void* w_kv, const float* b_kv, const void* w_proj,
                             const float* b_proj, DType wdtype, int B, int N, int L, int C, int H);

// ---- attention (attention.cpp) -----------------------------------------------------------
// Multi-head softmax(q k^T / sqrt(hd)) v for each sample b and head h, unmasked except that
// sample b sees only its first k_lens[b] keys (k_lens null: all Tk). Token t of sample b,
// head h starts at q + (b*Tq + t)*q_stride + h*hd (k, v likewise with kv_stride; out with
// out_stride), so packed [q|k|v] rows are read in place. A sample with no keys gets zeros.
// Uses sgemm for both products; scratch is internal (one [rows, Tk] tile per thread).
void attention_forward(float* out, const float* q, const float* k, const float* v, const int* k_lens, int B,
                       int Tq, int Tk, int H, int hd, int64_t q_stride, int64_t kv_stride, int64_t out_stride);
// Backward: recomputes the probabilities; dq/dk/dv accumulate with the strides of q/k/v.
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const int* k_lens, int B, int Tq, int Tk, int H, int hd, int64_t q_stride,
                        int64_t kv_stride, int64_t out_stride);

// ---- Mamba pieces (conv1d.cpp, selective_scan.cpp) ---------------------------------------
// Causal depthwise conv over time, channels-last: inp row t is inp + t*in_stride (D values),
// out [T, D] contiguous: out[t,d] = bias[d] + sum_k w[d,k] * inp[t+k-(K-1), d] (zero before 0).
// reverse: time runs from T-1 down to 0 (the same as flipping inp, convolving, flipping back),
// which is how the backward direction of a bidirectional Mamba avoids materialising flips.
void conv1d_causal_depthwise_forward(float* out, const float* inp, const float* weight, const float* bias,
                                     int T, int D, int K, int64_t in_stride, bool reverse);
// out = silu(conv1d_causal_depthwise_forward(...)): the conv and the SiLU Mamba applies to it in
// one op, for inference (training keeps the pre-activation for the SiLU's backward).
void conv1d_causal_depthwise_silu_forward(float* out, const float* inp, const float* weight, const float* bias,
                                          int T, int D, int K, int64_t in_stride, bool reverse);
// Backward (accumulates; dinp rows at t*in_stride like inp).
void conv1d_causal_depthwise_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                      const float* inp, const float* weight, int T, int D, int K,
                                      int64_t in_stride, bool reverse);
// The Mamba selective scan for one sequence (MODEL.md section 2), state float32:
//   s[d,n] = exp(delta[t,d]*A[d,n]) * s[d,n] + delta[t,d]*Bm[t,n]*u[t,d]   (s starts at 0)
//   y[t,d] (+)= (sum_n s[d,n]*Cm[t,n] + Dskip[d]*u[t,d]) * silu(z[t,d])
// u, delta, y: [T, D]; A: [D, N] (already -exp(A_log)); Bm, Cm rows at t*bc_stride; z rows at
// t*z_stride. reverse: t from T-1 down to 0. accumulate: y += instead of y =. delta_softplus
// (Mamba's flag of that name): the scan reads softplus(delta), the dt projection's activation
// taken as delta is loaded instead of in a pass of its own (inference; training keeps it).
void selective_scan_forward(float* y, const float* u, const float* delta, const float* A, const float* Bm,
                            const float* Cm, const float* Dskip, const float* z, int T, int D, int N,
                            int64_t bc_stride, int64_t z_stride, bool reverse, bool accumulate, bool delta_softplus);
// Backward: the reverse-time recurrence over recomputed float32 states (accumulates). dBm/dCm
// rows at t*dbc_stride, dz rows at t*dz_stride; dA is d/dA (A = -exp(A_log) already).
void selective_scan_backward(float* du, float* ddelta, float* dA, float* dBm, float* dCm, float* dDskip, float* dz,
                             const float* dy, const float* u, const float* delta, const float* A, const float* Bm,
                             const float* Cm, const float* Dskip, const float* z, int T, int D, int N,
                             int64_t bc_stride, int64_t z_stride, int64_t dbc_stride, int64_t dz_stride,
                             bool reverse);

// ---- patches and embeddings (patch.cpp, embeddings.cpp) ---------------------------------
// Conv2d(k=p, stride=p) as patchify + Linear: img [B,Cin,H,W] -> out [B, (H/p)*(W/p), C],
// tokens row-major (i, j); weight [C, Cin*p*p] (a [C,Cin,p,p] conv kernel) in wdtype.
void patch_embed_forward(float* out, const float* img, const void* weight, DType wdtype, const float* bias,
                         int B, int Cin, int H, int W, int p, int C);
// tokens [B, h*w, p*p*Cout] (each token row-major [p, p, Cout]) -> img [B, Cout, h*p, w*p].
void unpatchify_forward(float* img, const float* tokens, int B, int Cout, int h, int w, int p);
// Backward (accumulates; f32 weight). Any of dimg/dweight/dbias may be null.
void patch_embed_backward(float* dimg, float* dweight, float* dbias, const float* dout, const float* img,
                          const float* weight, int B, int Cin, int H, int W, int p, int C);
void unpatchify_backward(float* dtokens, const float* dimg, int B, int Cout, int h, int w, int p);
// The 2-D sin-cos position embedding out [h*w, C] (MODEL.md section 2 step 2, column
// coordinate first, computed in float64): gh[i] = i/(h/base)/interp, gw[j] = j/(w/base)/interp.
void sincos_pos_embed_2d(float* out, int C, int h, int w, double base_size, double pe_interpolation);
// out [B, dim] = concat(cos(t*f), sin(t*f)), f_i = exp(-ln(max_period) * i/(dim/2)) (dim even).
void timestep_embedding_forward(float* out, const float* t, int B, int dim, double max_period);

// ---- VAE: channels-last images (group_norm.cpp, conv2d.cpp, upsample_nearest.cpp) ----------
// Images are [B, H, W, C] (NHWC): see conv2d.cpp for why the VAE runs channels-last.
// GroupNorm: each sample's C channels in G groups of C/G consecutive channels, normalised over
// all HW positions of a group, then out = xhat * weight[c] + bias[c] (either may be null).
// mean/rstd [B, G] are written when non-null. In-place ok.
void group_norm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                        const float* bias, int B, int64_t HW, int C, int G, float eps);
// out [B, Ho, Wo, Cout] = conv(inp [B, H, W, Cin]) + bias with weight [Cout, k, k, Cin] in wdtype
// (F32/F16/BF16; a PyTorch [Cout, Cin, k, k] kernel permuted), zero padding of pad_top/left/
// bottom/right, Ho = (H + pad_top + pad_bottom - k) / stride + 1 (likewise Wo). accumulate:
// out += instead of out =. bias may be null. Not in-place.
void conv2d_forward(float* out, const float* inp, const void* weight, DType wdtype, const float* bias, int B,
                    int H, int W, int Cin, int Cout, int k, int stride, int pad_top, int pad_left, int pad_bottom,
                    int pad_right, bool accumulate);
// out [B, H*scale, W*scale, C]: nearest-neighbour upsampling of inp [B, H, W, C]. Not in-place.
void upsample_nearest_forward(float* out, const float* inp, int B, int H, int W, int C, int scale);

// ---- T5 encoder (attention_bias.cpp, linear_int8.cpp) -----------------------------------
// T5 attention: softmax(q k^T + bias[h] + mask) v per sample b and head h, with NO 1/sqrt(hd)
// scaling. bias [H, Tq, Tk] is shared by all samples (null: none); key_mask [B, Tk] (nonzero:
// attend; null: all keys). Masked keys get weight 0; a sample whose keys are all masked
// attends uniformly to all Tk keys (what the reference's additive dtype-min mask yields).
// Token strides as attention_forward.
void attention_bias_forward(float* out, const float* q, const float* k, const float* v, const float* bias,
                            const int32_t* key_mask, int B, int Tq, int Tk, int H, int hd, int64_t q_stride,
                            int64_t kv_stride, int64_t out_stride);
// Symmetric per-row int8: scale[r] = max|w[r,:]| / 127, q = round(w / scale) in [-127, 127].
void quantize_rows_int8(int8_t* q, float* scale, const float* w, int rows, int K);
// y[M,N] (+)= x[M,K] @ (q[N,K] * scale[N])^T (+ bias[N]): a Linear with int8 weights,
// dequantised one cache-sized panel of rows at a time (never as a whole). bias may be null.
void linear_int8_forward(float* y, const float* x, const int8_t* w, const float* scale, const float* bias, int M,
                         int K, int N, bool accumulate);

}  // namespace dimba::cpu
