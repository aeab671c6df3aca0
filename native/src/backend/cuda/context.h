// What the CUDA op files share (CUDA sources only): the device and its one stream, error
// checks that turn CUDA failures into EngineErrors, op scratch buffers, launch sizing, and
// the precision policy (cuda_backend.h). Every op launches on stream() and never
// synchronises; upload/download/synchronize/free do.
// defines: Context helpers (ensure_device, stream, check, check_launch, scratch, blocks_for,
//          reduced_precision, smem_fits, allow_smem), device memory entry points used by cuda_backend.cpp
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "backend/cuda/cuda_backend.h"
#include "core/dtype.h"

namespace dimba::cu {

// Starts the device once (throws EngineError(BackendUnavailable) with the reason when there is
// no usable device, driver, kernel image for it, or cuBLAS).
void ensure_device();
cudaStream_t stream();
void* cublas_handle();  // the cuBLAS handle bound to stream()

// Throws EngineError (OutOfMemory for allocation failures, Internal otherwise) naming `what`.
void check(cudaError_t e, const char* what);
// After a kernel launch: a bad launch configuration is an engine bug, reported by name.
void check_launch(const char* kernel);

// Scratch for op internals (16-bit copies of activations, widened weights): one buffer per
// slot, grown on demand and kept, so the steady state allocates nothing (CUDA graphs can
// capture it). Valid until the next scratch() call on the same slot.
// A: 16-bit activations (linear), lse (attention backward); B: widened weights (linear),
// the recomputed output (attention backward); C: sgemm operand; D: int8 dequant, scan chunk
// states, group-norm stats; E: im2col columns (patch embed, conv2d); F: their gradient;
// G: the MLP's 16-bit hidden (mlp_forward). The attention ops' bf16 paths: A the input (C
// cross-attention's context), F the projected q, k, v (F is pack_heads' otherwise), G the
// attention's output. The Mamba block's: A the normed input, C dt, E xz, F delta, G y.
enum ScratchSlot { kScratchA = 0, kScratchB, kScratchC, kScratchD, kScratchE, kScratchF, kScratchG, kScratchCount };
void* scratch(ScratchSlot slot, size_t bytes);

// Blocks for a grid-stride loop over n items with `threads` per block.
inline unsigned blocks_for(int64_t n, int threads) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  if (b > 65536) b = 65536;
  return unsigned(b);
}

bool reduced_precision();
using AttentionKernel = CudaAttentionKernel;  // cuda_backend.h: cuda_set_attention_kernel
AttentionKernel attention_kernel();
enum class ScanKernel { Warp, Chunked };  // cuda_backend.h: cuda_set_scan_kernel
ScanKernel scan_kernel();
bool fused_blocks();  // false under DIMBA_CUDA_BLOCKS=composed: the block ops compose the ops

void throw_invalid(const std::string& what);  // EngineError(InvalidArgument)

// The shared memory a block may opt into on this GPU: 227 KiB on the H100, 163 KiB on the
// A100, 99 KiB on sm_86/89/120 (the RTX 30, 40 and 50 cards). Kernel choices that need more
// than the 48 KiB every GPU gives ask smem_fits first.
size_t smem_optin();
constexpr size_t kSmemDefault = 48 * 1024;  // what a block gets without opting in
inline bool smem_fits(size_t bytes) { return bytes <= kSmemDefault || bytes <= smem_optin(); }

// Lets `kernel` take `bytes` of dynamic shared memory (past kSmemDefault). Where this GPU has
// less, throws InvalidArgument naming `op` (sizes this GPU cannot take).
template <class Kernel>
void allow_smem(Kernel kernel, size_t bytes, const std::string& op) {
  if (bytes <= kSmemDefault) return;
  if (!smem_fits(bytes))
    throw_invalid(op + ": needs " + std::to_string(bytes >> 10) + " KiB of shared memory a block; " +
                  "this GPU allows " + std::to_string(smem_optin() >> 10) + " KiB");
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)),
        "cudaFuncSetAttribute(shared memory)");
}

// Memory entry points of the Backend table (cuda_backend.cpp fills the table with them).
size_t max_buffer_bytes();
void* device_alloc(size_t bytes);
void device_free(void* p);
void upload(void* dst, const void* src, size_t bytes);
void download(void* dst, const void* src, size_t bytes);
void synchronize();
void zero(void* p, size_t bytes);  // cudaMemsetAsync on the stream

// n f32 elements rounded to `to` (bf16 or f16) into op scratch `slot`, returned (valid until
// that slot's next use; matmul.cu).
const void* to_16(ScratchSlot slot, DType to, const float* src, int64_t n);
// Row-major C[M, N] (row stride ldc) = alpha op(A) op(B) + beta C with A, B bf16 row-major
// (row strides lda, ldb; op transposes where asked), on tensor cores with f32 accumulation:
// sgemm's tensor-core mode after its conversions (matmul.cu). K = 0: C = beta C, as sgemm.
void gemm_bf16(bool transA, bool transB, int M, int N, int K, float alpha, const void* A, int lda, const void* B,
               int ldb, float beta, float* C, int ldc);
// 16-bit -> f32 widening (matmul.cu).
void widen_to_f32(float* dst, const void* src, DType from, int64_t n);
// out[b] = LN(x[b]) (1 + scale_b) + shift_b (shift_b = shift + b mod_stride, likewise scale;
// LayerNorm without affine) rounded to bf16, over B samples of T rows (norms.cu).
void layernorm_modulate_to_bf16(__nv_bfloat16* out, const float* x, const float* shift, const float* scale,
                                int64_t mod_stride, int B, int64_t T, int C, float eps);
// gated_residual_forward that also writes the new x rounded to bf16 into x16 (elementwise.cu).
void gated_residual_to_bf16(float* x, __nv_bfloat16* x16, const float* y, const float* gate, int B, int64_t T, int C,
                            int64_t gate_stride);
// out = RMSNorm(inp) * weight rounded to bf16, for a Linear that reads bf16 (norms.cu).
void rmsnorm_to_bf16(__nv_bfloat16* out, const float* inp, const float* weight, int64_t rows, int C, float eps);
// dst = gelu_tanh(src) rounded to `to` (bf16 or f16): the GELU and the conversion for the next
// matmul in one pass (elementwise.cu; mlp_forward).
void gelu_tanh_to_16(void* dst, DType to, const float* src, int64_t n);
// The tensor-core mode's Linear y[M,N] = x16[M,K] w[N,K]^T + bias (+ y when accumulating) on
// activations already in the weights' 16-bit type: what linear_forward computes after its own
// conversion (matmul.cu).
void linear_from_16(float* y, const void* x16, const void* w, DType wdtype, const float* bias, int M, int K, int N,
                    bool accumulate = false);
// Likewise with y16 written in the weights' type by cuBLASLt (f32 accumulation, the bias added
// and, where `gelu`, cuBLASLt's tanh-form GELU applied before the one rounding); false, with
// nothing run, where cuBLASLt declines it.
bool linear_from_16_to_16(void* y16, const void* x16, const void* w, DType wdtype, const float* bias, bool gelu, int M,
                          int K, int N);
// mlp_forward's tensor-core path on x already in the 16-bit weights' type (matmul.cu).
void mlp_from_16(float* y, float* hidden, const void* x16, const void* w1, const float* b1, const void* w2,
                 const float* b2, DType wdtype, int M, int K, int H, int N);
// y16[M,N] = x16 w^T + bias in the weights' type, in op scratch `slot` (returned, valid until
// that slot's next use): by cuBLASLt where it can, else computed in f32 into y32 (room for M N
// floats) and rounded once, as cuBLASLt does.
const void* linear_into_16(ScratchSlot slot, float* y32, const void* x16, const void* w, DType wdtype,
                           const float* bias, int M, int K, int N);

}  // namespace dimba::cu
