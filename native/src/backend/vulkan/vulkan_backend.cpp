// The Vulkan backend's op table (backend/backend.h). Every forward op and every training op
// has a Vulkan kernel; an op without one would be null (reported as unsupported, never a
// silent CPU fallback).
// defines: vulkan_backend, vulkan_compiled_in
#include "backend/vulkan/vulkan_backend.h"

#include "core/error.h"

#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"
#endif

namespace dimba {

#ifdef DIMBA_HAVE_VULKAN
namespace {
void* vk_alloc(size_t bytes) { return vk::Context::get().alloc(bytes); }
void vk_free(void* p) { vk::Context::get().free(p); }
void vk_upload(void* dst, const void* src, size_t bytes) { vk::Context::get().upload(dst, src, bytes); }
void vk_download(void* dst, const void* src, size_t bytes) { vk::Context::get().download(dst, src, bytes); }
void vk_sync() { vk::Context::get().synchronize(); }
size_t vk_max_buffer() { return vk::Context::get().max_buffer_bytes(); }
}  // namespace

bool vulkan_compiled_in() { return true; }

VulkanDeviceInfo vulkan_device_info() {
  vk::Context& c = vk::Context::get();
  VulkanDeviceInfo d{c.device_name(), c.cpu_device(), c.subgroup_size(), c.subgroup_arithmetic(),
                     c.subgroup_reductions(), ""};
  d.kernels = c.subgroup_reductions() ? "reductions: subgroup (" + std::to_string(c.subgroup_size()) + " wide)"
              : c.subgroup_arithmetic() ? "reductions: shared memory (subgroups turned off)"
                                        : "reductions: shared memory (no subgroup arithmetic)";
  d.kernels += "; " + c.matmul_path();
  return d;
}

bool vulkan_set_subgroup_reductions(bool on) { return vk::Context::get().set_subgroup_reductions(on); }

const Backend& vulkan_backend() {
  vk::Context::get();  // throws a clear EngineError when no device exists
  static const Backend be = {
      "vulkan",
      false,
      vk_max_buffer,
      vk_alloc,
      vk_free,
      vk_upload,
      vk_download,
      vk_sync,
      vk::linear_forward,
      vk::sgemm,
      vk::layernorm_forward,
      vk::rmsnorm_forward,
      vk::modulate_forward,
      vk::gated_residual_forward,
      vk::gelu_tanh_forward,
      vk::silu_forward,
      vk::softplus_forward,
      vk::add_forward,
      vk::add_row_forward,
      vk::mul_forward,
      vk::copy_rows_forward,
      vk::attention_forward,
      vk::conv1d_causal_depthwise_forward,
      vk::selective_scan_forward,
      vk::patch_embed_forward,
      vk::unpatchify_forward,
      vk::sincos_pos_embed_2d,         // host float64 + upload (embeddings.cpp says why)
      vk::timestep_embedding_forward,  // likewise
      vk::group_norm_forward,
      vk::conv2d_forward,
      vk::upsample_nearest_forward,
      vk::attention_bias_forward,
      vk::linear_int8_forward,
      vk::mlp_forward,
      vk::conv1d_causal_depthwise_silu_forward,
      vk::self_attention_forward,
      vk::cross_attention_forward,
      composed_dimba_block_forward,  // no fused kernels: the compositions of the ops above
      composed_mamba_block_forward,
      vk::zero,
      vk::linear_backward,
      vk::layernorm_backward,
      vk::rmsnorm_backward,
      vk::modulate_backward,
      vk::gated_residual_backward,
      vk::gelu_tanh_backward,
      vk::silu_backward,
      vk::softplus_backward,
      vk::add_backward,
      vk::add_row_backward,
      vk::attention_backward,
      vk::conv1d_causal_depthwise_backward,
      vk::selective_scan_backward,
      vk::patch_embed_backward,
      vk::unpatchify_backward,
      nullptr,  // one precision
  };
  return be;
}
#else
bool vulkan_compiled_in() { return false; }

VulkanDeviceInfo vulkan_device_info() {
  vulkan_backend();  // throws "built without Vulkan"
  return {};
}

bool vulkan_set_subgroup_reductions(bool) {
  vulkan_backend();  // throws "built without Vulkan"
  return false;
}

const Backend& vulkan_backend() {
  throw EngineError(ErrorCode::BackendUnavailable,
                    "backend 'vulkan' is not available: this engine was built without Vulkan "
                    "(glslc or the Vulkan headers were missing at build time)");
}
#endif

}  // namespace dimba
