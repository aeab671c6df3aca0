// The CUDA backend's public face: its op table, whether this build has it, the device, the
// precision policy and memory counters. Optional like Vulkan (native/CMakeLists.txt): without
// nvcc at configure time, or with -DDIMBA_CUDA=OFF, DIMBA_HAVE_CUDA is undefined and
// cuda_backend() throws a clear EngineError(BackendUnavailable) instead of the table. cudart
// is linked statically and cuBLAS is opened at run time, so an engine with CUDA inside still
// loads where no driver, no GPU or no cuBLAS exists; the reason comes back in the error.
// defines: cuda_compiled_in, cuda_backend, CudaDeviceInfo, cuda_device_info,
//          cuda_set_reduced_precision, cuda_reduced_precision, cuda_set_attention_kernel,
//          cuda_set_scan_kernel, CudaMemoryStats, cuda_memory_stats, cuda_reset_peak_memory,
//          cuda_gemm_bf16_tflops, CudaGraph, cuda_graph_capture, cuda_graph_launch
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "backend/backend.h"

namespace dimba {

bool cuda_compiled_in();

// The CUDA backend (the first call picks device 0, or DIMBA_CUDA_DEVICE, creates the stream
// and opens cuBLAS). Throws EngineError(BackendUnavailable) saying why there is none.
const Backend& cuda_backend();

struct CudaDeviceInfo {
  std::string name;         // e.g. "NVIDIA H100 80GB HBM3"
  int sm = 0;               // compute capability, e.g. 90
  int multiprocessors = 0;
  size_t memory_bytes = 0;
  size_t smem_optin = 0;    // the shared memory a block may opt into (kernel choices follow it)
  std::string cublas;       // the cuBLAS library opened and its version
};
CudaDeviceInfo cuda_device_info();  // throws as cuda_backend() does

// The precision policy. Products of two activations (attention, sgemm) and f32-weight Linears
// either run exactly in f32 (off), or on tensor cores (on: bf16 inputs for attention and
// sgemm, TF32 for f32 weights; f32 accumulation always). 16-bit weights: with it on the
// activations are rounded to the weight's type and the GEMM runs on tensor cores; off, the
// weights are widened to f32 first (the CPU's arithmetic). On by default (the speed a GPU is
// bought for); DIMBA_CUDA_EXACT=1 starts it off. The f32 golden cases run with it off.
// Returns the previous setting.
bool cuda_set_reduced_precision(bool on);
bool cuda_reduced_precision();

// Which tensor-core attention kernel the reduced mode runs (attention.cu): Mma (the default),
// mma.sync with everything in registers and 32 query rows per warp at head dims up to 80;
// Mma16, the same with 16 rows per warp (DIMBA_CUDA_ATTENTION=mma16 starts with it); Wmma, the
// WMMA kernel with its tiles in shared memory (DIMBA_CUDA_ATTENTION=wmma). All three are kept
// until a GPU run has compared them. Returns the previous setting.
enum class CudaAttentionKernel { Mma, Mma16, Wmma };
CudaAttentionKernel cuda_set_attention_kernel(CudaAttentionKernel kernel);

// Which selective scan forward runs (scan.cu): false (default) the one-pass kernel with a warp
// per channel, true the chunked two-pass one (DIMBA_CUDA_SCAN=chunked starts with it). Both are
// kept until a GPU run has compared them. Returns the previous setting.
bool cuda_set_scan_kernel(bool chunked);

struct CudaMemoryStats {
  size_t live_bytes = 0;   // allocated through the backend now (buffers and op scratch)
  size_t peak_bytes = 0;   // the most at once since the last reset
  size_t device_used = 0;  // the whole device's used memory (cudaMemGetInfo), any process
};
CudaMemoryStats cuda_memory_stats();
void cuda_reset_peak_memory();

// The card's dense bf16 matmul rate, measured now through the same cuBLAS the Linears use: a
// square n x n x n GEMM with bf16 inputs and f32 accumulation, output f32 (what the engine's
// Linears write) or bf16, `reps` times after a warm-up, timed with CUDA events. TFLOP/s
// (2 n^3 per GEMM). Throws as cuda_backend() does.
double cuda_gemm_bf16_tflops(int n, int reps, bool out_f32);

// CUDA graphs: the ops `body` enqueues, captured once into an executable graph and replayed
// with one launch (no per-op launch cost). `body` must not synchronise or copy host memory and
// should not allocate (run it once before capturing so arenas and op scratch have grown):
// DimbaModel::forward_device on fixed device buffers is such a body. The graph replays the same
// pointers, so inputs are refreshed by uploading into the same buffers between launches.
// Throws as cuda_backend() does, or Internal when the capture fails (the reason named).
struct CudaGraph;
std::shared_ptr<CudaGraph> cuda_graph_capture(const std::function<void()>& body);
void cuda_graph_launch(const CudaGraph& graph);  // enqueued on the backend's stream

}  // namespace dimba
