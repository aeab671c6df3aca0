// The backend registry and the CPU backend's table.
// defines: cpu_backend, find_backend
#include "backend/backend.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "backend/cuda/cuda_backend.h"
#include "backend/vulkan/vulkan_backend.h"
#include "core/error.h"

namespace dimba {
namespace {

void* host_alloc(size_t bytes) {
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
  if (!p) throw EngineError(ErrorCode::OutOfMemory, "cannot allocate " + std::to_string(bytes) + " bytes");
  return p;
}
void host_free(void* p) { std::free(p); }
void host_copy(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void host_sync() {}
void host_zero(void* p, size_t bytes) { std::memset(p, 0, bytes); }
size_t host_max_buffer() { return SIZE_MAX; }

}  // namespace

const Backend& cpu_backend() {
  static const Backend be = {
      "cpu",
      true,
      host_max_buffer,
      host_alloc,
      host_free,
      host_copy,
      host_copy,
      host_sync,
      cpu::linear_forward,
      cpu::sgemm,
      cpu::layernorm_forward,
      cpu::rmsnorm_forward,
      cpu::modulate_forward,
      cpu::gated_residual_forward,
      cpu::gelu_tanh_forward,
      cpu::silu_forward,
      cpu::softplus_forward,
      cpu::add_forward,
      cpu::add_row_forward,
      cpu::mul_forward,
      cpu::copy_rows_forward,
      cpu::attention_forward,
      cpu::conv1d_causal_depthwise_forward,
      cpu::selective_scan_forward,
      cpu::patch_embed_forward,
      cpu::unpatchify_forward,
      cpu::sincos_pos_embed_2d,
      cpu::timestep_embedding_forward,
      cpu::group_norm_forward,
      cpu::conv2d_forward,
      cpu::upsample_nearest_forward,
      cpu::attention_bias_forward,
      cpu::linear_int8_forward,
      cpu::mlp_forward,
      cpu::conv1d_causal_depthwise_silu_forward,
      cpu::self_attention_forward,
      cpu::cross_attention_forward,
      composed_dimba_block_forward,
      composed_mamba_block_forward,
      host_zero,
      cpu::linear_backward,
      cpu::layernorm_backward,
      cpu::rmsnorm_backward,
      cpu::modulate_backward,
      cpu::gated_residual_backward,
      cpu::gelu_tanh_backward,
      cpu::silu_backward,
      cpu::softplus_backward,
      cpu::add_backward,
      cpu::add_row_backward,
      cpu::attention_backward,
      cpu::conv1d_causal_depthwise_backward,
      cpu::selective_scan_backward,
      cpu::patch_embed_backward,
      cpu::unpatchify_backward,
      nullptr,  // one precision
  };
  return be;
}

const Backend& find_backend(const std::string& name) {
  if (name == "cpu") return cpu_backend();
  if (name == "vulkan") return vulkan_backend();  // throws when built without it or no device
  if (name == "cuda") return cuda_backend();  // throws when built without it or no device
  throw EngineError(ErrorCode::InvalidArgument, "unknown backend '" + name + "' (known: cpu, vulkan, cuda)");
}

}  // namespace dimba
