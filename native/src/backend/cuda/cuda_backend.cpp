// The CUDA backend's op table (backend/backend.h). Every op, forward and training, has a CUDA
// kernel or a cuBLAS call (ops.h says which file); no entry is null and nothing falls back to the CPU.
// Compiled by the host compiler in every build; without DIMBA_HAVE_CUDA it only says why
// there is no CUDA backend.
// defines: cuda_backend, cuda_compiled_in (and the stubs of cuda_backend.h without CUDA)
#include "backend/cuda/cuda_backend.h"

#include "core/error.h"

#ifdef DIMBA_HAVE_CUDA
#include "backend/cuda/ops.h"
#endif

namespace dimba {

#ifdef DIMBA_HAVE_CUDA
namespace cu {
// context.cu
void ensure_device();
size_t max_buffer_bytes();
void* device_alloc(size_t bytes);
void device_free(void* p);
void upload(void* dst, const void* src, size_t bytes);
void download(void* dst, const void* src, size_t bytes);
void synchronize();
void zero(void* p, size_t bytes);
}  // namespace cu

namespace {
// The blocks' fused bf16 paths where they apply, else the compositions of the ops.
void dimba_block_forward(const Backend& be, float* x, const DimbaBlockScratch& s, const float* ctx,
                         const int* ctx_lens, const float* t0, const DimbaBlock& w, int B, int N, int L) {
  if (!cu::dimba_block_bf16(x, s, ctx, ctx_lens, t0, w, B, N, L))
    composed_dimba_block_forward(be, x, s, ctx, ctx_lens, t0, w, B, N, L);
}
void mamba_block_forward(const Backend& be, float* out, const MambaBlockScratch& s, const float* residual,
                         const MambaBlock& m, int B, int N) {
  if (!cu::mamba_block_bf16(out, s, residual, m, B, N)) composed_mamba_block_forward(be, out, s, residual, m, B, N);
}
}  // namespace

bool cuda_compiled_in() { return true; }

const Backend& cuda_backend() {
  cu::ensure_device();  // throws a clear EngineError when there is no usable device
  static const Backend be = {
      "cuda",
      false,
      cu::max_buffer_bytes,
      cu::device_alloc,
      cu::device_free,
      cu::upload,
      cu::download,
      cu::synchronize,
      cu::linear_forward,
      cu::sgemm,
      cu::layernorm_forward,
      cu::rmsnorm_forward,
      cu::modulate_forward,
      cu::gated_residual_forward,
      cu::gelu_tanh_forward,
      cu::silu_forward,
      cu::softplus_forward,
      cu::add_forward,
      cu::add_row_forward,
      cu::mul_forward,
      cu::copy_rows_forward,
      cu::attention_forward,
      cu::conv1d_causal_depthwise_forward,
      cu::selective_scan_forward,
      cu::patch_embed_forward,
      cu::unpatchify_forward,
      cu::sincos_pos_embed_2d,  // float64 on the host once per shape, then a device copy
      cu::timestep_embedding_forward,
      cu::group_norm_forward,
      cu::conv2d_forward,
      cu::upsample_nearest_forward,
      cu::attention_bias_forward,
      cu::linear_int8_forward,
      cu::mlp_forward,
      cu::conv1d_causal_depthwise_silu_forward,
      cu::self_attention_forward,
      cu::cross_attention_forward,
      dimba_block_forward,
      mamba_block_forward,
      cu::zero,
      cu::linear_backward,
      cu::layernorm_backward,
      cu::rmsnorm_backward,
      cu::modulate_backward,
      cu::gated_residual_backward,
      cu::gelu_tanh_backward,
      cu::silu_backward,
      cu::softplus_backward,
      cu::add_backward,
      cu::add_row_backward,
      cu::attention_backward,
      cu::conv1d_causal_depthwise_backward,
      cu::selective_scan_backward,
      cu::patch_embed_backward,
      cu::unpatchify_backward,
      cuda_set_reduced_precision,
  };
  return be;
}
#else
bool cuda_compiled_in() { return false; }

namespace {
[[noreturn]] void not_built() {
  throw EngineError(ErrorCode::BackendUnavailable,
                    "backend 'cuda' is not available: this engine was built without CUDA (nvcc was not found at "
                    "configure time, or -DDIMBA_CUDA=OFF)");
}
}  // namespace

const Backend& cuda_backend() { not_built(); }
CudaDeviceInfo cuda_device_info() { not_built(); }
bool cuda_set_reduced_precision(bool) { not_built(); }
bool cuda_reduced_precision() { not_built(); }
CudaAttentionKernel cuda_set_attention_kernel(CudaAttentionKernel) { not_built(); }
bool cuda_set_scan_kernel(bool) { not_built(); }
CudaMemoryStats cuda_memory_stats() { not_built(); }
void cuda_reset_peak_memory() { not_built(); }
double cuda_gemm_bf16_tflops(int, int, bool) { not_built(); }
struct CudaGraph {};
std::shared_ptr<CudaGraph> cuda_graph_capture(const std::function<void()>&) { not_built(); }
void cuda_graph_launch(const CudaGraph&) { not_built(); }
#endif

}  // namespace dimba
