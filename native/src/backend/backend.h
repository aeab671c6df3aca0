// The backend interface: one table of op function pointers per backend (in the spirit of
// ggml's backend registry). CPU is the reference and always present; Vulkan/CUDA will fill
// the same table and be checked against CPU op by op (a parity test per op on random
// inputs) and end to end against the golden tensors. Every op keeps its name and argument
// order on every backend (backend/cpu/ops.h documents the semantics); pointers are device
// pointers of that backend (host memory for CPU). An op a backend lacks is a null entry,
// reported as unsupported, never silently replaced.
// defines: Backend, cpu_backend, find_backend
#pragma once
#include <cstddef>
#include <string>

#include "backend/composed.h"
#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"

namespace dimba {

struct Backend {
  const char* name;  // "cpu", "vulkan", "cuda"
  // True when device pointers are host pointers (CPU): models then read inputs and write
  // outputs in place instead of staging them through upload/download.
  bool host_memory;

  // Memory: device buffers and copies from/to host. alloc() refuses (OutOfMemory) a buffer
  // over max_buffer_bytes() (Vulkan: maxStorageBufferRange, 128 MiB on lavapipe).
  size_t (*max_buffer_bytes)();
  void* (*alloc)(size_t bytes);
  void (*free)(void* p);
  void (*upload)(void* dst_device, const void* src_host, size_t bytes);
  void (*download)(void* dst_host, const void* src_device, size_t bytes);
  void (*synchronize)();

  // Ops: the signatures of backend/cpu/ops.h and backend/cpu/gemm.h.
  decltype(&cpu::linear_forward) linear_forward;
  decltype(&cpu::sgemm) sgemm;
  decltype(&cpu::layernorm_forward) layernorm_forward;
  decltype(&cpu::rmsnorm_forward) rmsnorm_forward;
  decltype(&cpu::modulate_forward) modulate_forward;
  decltype(&cpu::gated_residual_forward) gated_residual_forward;
  decltype(&cpu::gelu_tanh_forward) gelu_tanh_forward;
  decltype(&cpu::silu_forward) silu_forward;
  decltype(&cpu::softplus_forward) softplus_forward;
  decltype(&cpu::add_forward) add_forward;
  decltype(&cpu::add_row_forward) add_row_forward;
  decltype(&cpu::mul_forward) mul_forward;
  decltype(&cpu::copy_rows_forward) copy_rows_forward;
  decltype(&cpu::attention_forward) attention_forward;
  decltype(&cpu::conv1d_causal_depthwise_forward) conv1d_causal_depthwise_forward;
  decltype(&cpu::selective_scan_forward) selective_scan_forward;
  decltype(&cpu::patch_embed_forward) patch_embed_forward;
  decltype(&cpu::unpatchify_forward) unpatchify_forward;
  decltype(&cpu::sincos_pos_embed_2d) sincos_pos_embed_2d;
  decltype(&cpu::timestep_embedding_forward) timestep_embedding_forward;
  decltype(&cpu::group_norm_forward) group_norm_forward;              // VAE
  decltype(&cpu::conv2d_forward) conv2d_forward;                      // VAE
  decltype(&cpu::upsample_nearest_forward) upsample_nearest_forward;  // VAE
  decltype(&cpu::attention_bias_forward) attention_bias_forward;      // T5
  decltype(&cpu::linear_int8_forward) linear_int8_forward;            // T5 int8 weights
  decltype(&cpu::mlp_forward) mlp_forward;                            // Dimba's MLPs
  decltype(&cpu::conv1d_causal_depthwise_silu_forward) conv1d_causal_depthwise_silu_forward;  // Mamba
  decltype(&cpu::self_attention_forward) self_attention_forward;      // Dimba's self-attention
  decltype(&cpu::cross_attention_forward) cross_attention_forward;    // Dimba's cross-attention
  // Dimba's blocks (composed.h), called with the table itself first: be.dimba_block_forward(be, ...).
  decltype(&composed_dimba_block_forward) dimba_block_forward;
  decltype(&composed_mamba_block_forward) mamba_block_forward;

  // Training (training/dimba_train.cpp). Appended after the forward ops so that a table
  // written positionally before them still compiles; a backend without them leaves them null
  // and DimbaTrainer refuses it with BackendUnavailable naming what is missing.
  // zero: `bytes` (a multiple of 4) of device memory set to 0, for gradients that accumulate.
  void (*zero)(void* dst_device, size_t bytes);
  decltype(&cpu::linear_backward) linear_backward;
  decltype(&cpu::layernorm_backward) layernorm_backward;
  decltype(&cpu::rmsnorm_backward) rmsnorm_backward;
  decltype(&cpu::modulate_backward) modulate_backward;
  decltype(&cpu::gated_residual_backward) gated_residual_backward;
  decltype(&cpu::gelu_tanh_backward) gelu_tanh_backward;
  decltype(&cpu::silu_backward) silu_backward;
  decltype(&cpu::softplus_backward) softplus_backward;
  decltype(&cpu::add_backward) add_backward;
  decltype(&cpu::add_row_backward) add_row_backward;
  decltype(&cpu::attention_backward) attention_backward;
  decltype(&cpu::conv1d_causal_depthwise_backward) conv1d_causal_depthwise_backward;
  decltype(&cpu::selective_scan_backward) selective_scan_backward;
  decltype(&cpu::patch_embed_backward) patch_embed_backward;
  decltype(&cpu::unpatchify_backward) unpatchify_backward;

  // The switch of a backend's reduced-precision mode (CUDA: activations rounded to bf16 for the
  // tensor cores, TF32; null where there is one mode): sets it, returns the previous setting.
  // It is process-wide; T5 turns it off around its forward (models/t5_encoder.cpp).
  bool (*set_reduced_precision)(bool on);
};

// The CPU backend (always available).
const Backend& cpu_backend();

// "cpu" or "vulkan"; EngineError(BackendUnavailable) when the backend is not in this build or
// has no device, InvalidArgument for an unknown name. Choosing by setting: backend/select.h.
const Backend& find_backend(const std::string& name);

}  // namespace dimba
