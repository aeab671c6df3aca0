// The CUDA device, its stream, memory with live/peak counters, op scratch and the precision
// policy (see context.h, cuda_backend.h).
// Start-up checks, in order, each an E_BACKEND_UNAVAILABLE naming the cause: a driver and a
// device (cudaGetDeviceCount), a kernel image for the device's architecture (a probe kernel:
// this build's kernels are compiled for CMake's DIMBA_CUDA_ARCHITECTURES), then cuBLAS.
// defines: ensure_device, stream, check, check_launch, scratch, reduced_precision, smem_optin,
//          device memory entry points, cuda_device_info, cuda_set_reduced_precision,
//          cuda_memory_stats, cuda_reset_peak_memory, cuda_graph_capture, cuda_graph_launch,
//          cublas_handle
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>

#include "backend/cuda/context.h"
#include "backend/cuda/cublas_api.h"
#include "backend/cuda/cuda_backend.h"
#include "core/error.h"

namespace dimba::cu {
namespace {

__global__ void probe_kernel(int* out) {
  if (out) *out = 1;
}

struct State {
  std::once_flag once;
  std::string error;  // non-empty: no usable device, and why
  int device = 0;
  cudaDeviceProp prop{};
  cudaStream_t stream = nullptr;
  void* cublas = nullptr;
  std::string cublas_desc;
  std::mutex mu;  // guards the allocation map and counters
  std::map<uintptr_t, size_t> allocs;
  size_t live = 0, peak = 0;
  void* scratch[kScratchCount] = {};
  size_t scratch_bytes[kScratchCount] = {};
};

State& st() {
  static State s;
  return s;
}

std::atomic<bool> g_reduced{[] {
  const char* e = std::getenv("DIMBA_CUDA_EXACT");
  return !(e && e[0] == '1');
}()};

// DIMBA_CUDA_ATTENTION=mma16 or wmma starts with that kernel (a rerun can switch without a
// rebuild).
std::atomic<AttentionKernel> g_attention{[] {
  const char* e = std::getenv("DIMBA_CUDA_ATTENTION");
  const std::string v = e ? e : "";
  return v == "wmma" ? AttentionKernel::Wmma : v == "mma16" ? AttentionKernel::Mma16 : AttentionKernel::Mma;
}()};

// DIMBA_CUDA_SCAN=chunked starts with the chunked two-pass selective scan.
std::atomic<bool> g_chunked_scan{[] {
  const char* e = std::getenv("DIMBA_CUDA_SCAN");
  return e && std::string(e) == "chunked";
}()};

// DIMBA_CUDA_BLOCKS=composed runs the block ops as compositions of the ops (no bf16 paths).
const bool g_composed_blocks = [] {
  const char* e = std::getenv("DIMBA_CUDA_BLOCKS");
  return e && std::string(e) == "composed";
}();

std::string unavailable(const std::string& why) { return "backend 'cuda' is not available: " + why; }

void start(State& s) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    s.error = unavailable(std::string("no CUDA device (") + cudaGetErrorName(e) + ": " + cudaGetErrorString(e) + ")");
    return;
  }
  if (count == 0) {
    s.error = unavailable("no CUDA device");
    return;
  }
  const char* pick = std::getenv("DIMBA_CUDA_DEVICE");
  s.device = pick ? std::atoi(pick) : 0;
  if (s.device < 0 || s.device >= count) {
    s.error = unavailable("DIMBA_CUDA_DEVICE=" + std::string(pick) + " but there are " + std::to_string(count) + " devices");
    return;
  }
  if ((e = cudaSetDevice(s.device)) != cudaSuccess || (e = cudaGetDeviceProperties(&s.prop, s.device)) != cudaSuccess) {
    s.error = unavailable(std::string("device ") + std::to_string(s.device) + ": " + cudaGetErrorString(e));
    return;
  }
  if ((e = cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking)) != cudaSuccess) {
    s.error = unavailable(std::string("cannot create a stream: ") + cudaGetErrorString(e));
    return;
  }
  probe_kernel<<<1, 1, 0, s.stream>>>(nullptr);
  e = cudaGetLastError();
  if (e == cudaSuccess) e = cudaStreamSynchronize(s.stream);
  if (e != cudaSuccess) {
    s.error = unavailable(std::string(s.prop.name) + " (sm_" + std::to_string(s.prop.major * 10 + s.prop.minor) +
                          ") cannot run this build's kernels: " + cudaGetErrorString(e));
    return;
  }
  try {
    const CublasApi& api = cublas_api();
    if (api.create(&s.cublas) != 0) {
      s.error = unavailable("cublasCreate failed (" + api.library + ")");
      return;
    }
    api.set_stream(s.cublas, s.stream);
    int version = 0;
    api.get_version(s.cublas, &version);
    s.cublas_desc = api.library + " " + std::to_string(version);
  } catch (const EngineError& err) {
    s.error = err.what();
    return;
  }
  try {  // optional: without it the linears run through cublasGemmEx (matmul.cu)
    s.cublas_desc += ", " + cublas_lt_api().library;
  } catch (const EngineError&) {
    s.cublas_desc += ", no cuBLASLt (linears through cublasGemmEx)";
  }
}

}  // namespace

void ensure_device() {
  State& s = st();
  std::call_once(s.once, [&] { start(s); });
  if (!s.error.empty()) throw EngineError(ErrorCode::BackendUnavailable, s.error);
}

cudaStream_t stream() { return st().stream; }
void* cublas_handle() { return st().cublas; }

void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  const std::string msg = std::string("cuda: ") + what + ": " + cudaGetErrorString(e);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // clear the sticky-free error so later calls work
    throw EngineError(ErrorCode::OutOfMemory, msg);
  }
  throw EngineError(ErrorCode::Internal, msg);
}

void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

void throw_invalid(const std::string& what) { throw EngineError(ErrorCode::InvalidArgument, "cuda: " + what); }

bool reduced_precision() { return g_reduced.load(); }
AttentionKernel attention_kernel() { return g_attention.load(); }
ScanKernel scan_kernel() { return g_chunked_scan.load() ? ScanKernel::Chunked : ScanKernel::Warp; }
bool fused_blocks() { return !g_composed_blocks; }

size_t smem_optin() { return st().prop.sharedMemPerBlockOptin; }

size_t max_buffer_bytes() {
  ensure_device();
  return st().prop.totalGlobalMem;
}

void* device_alloc(size_t bytes) {
  ensure_device();
  State& s = st();
  void* p = nullptr;
  const size_t n = bytes ? (bytes + 255) / 256 * 256 : 256;
  const cudaError_t e = cudaMalloc(&p, n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    throw EngineError(ErrorCode::OutOfMemory, "cuda: cannot allocate " + std::to_string(bytes) + " bytes: " +
                                                  cudaGetErrorString(e));
  }
  std::lock_guard<std::mutex> lock(s.mu);
  s.allocs[uintptr_t(p)] = n;
  s.live += n;
  if (s.live > s.peak) s.peak = s.live;
  return p;
}

void device_free(void* p) {
  if (!p) return;
  State& s = st();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.allocs.find(uintptr_t(p));
    if (it == s.allocs.end()) throw_invalid("free of a pointer that alloc() did not return");
    s.live -= it->second;
    s.allocs.erase(it);
  }
  check(cudaFree(p), "cudaFree");
}

namespace {
// A host copy must stay inside one allocation (pointer arithmetic into buffers is fine).
void check_range(const void* p, size_t bytes, const char* what) {
  State& s = st();
  std::lock_guard<std::mutex> lock(s.mu);
  const uintptr_t a = uintptr_t(p);
  auto it = s.allocs.upper_bound(a);
  if (it == s.allocs.begin()) throw_invalid(std::string(what) + ": not device memory of this backend");
  --it;
  if (a < it->first || a + bytes > it->first + it->second)
    throw_invalid(std::string(what) + ": " + std::to_string(bytes) + " bytes run past the end of the buffer");
}
}  // namespace

void upload(void* dst, const void* src, size_t bytes) {
  if (!bytes) return;
  check_range(dst, bytes, "upload");
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()), "upload");
  check(cudaStreamSynchronize(stream()), "upload");
}

void download(void* dst, const void* src, size_t bytes) {
  if (!bytes) return;
  check_range(src, bytes, "download");
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()), "download");
  check(cudaStreamSynchronize(stream()), "download");
}

void synchronize() { check(cudaStreamSynchronize(stream()), "synchronize"); }

void zero(void* p, size_t bytes) {
  if (bytes) check(cudaMemsetAsync(p, 0, bytes, stream()), "zero");
}

void* scratch(ScratchSlot slot, size_t bytes) {
  State& s = st();
  if (bytes <= s.scratch_bytes[slot]) return s.scratch[slot];
  if (s.scratch[slot]) device_free(s.scratch[slot]);  // cudaFree waits for the ops using it
  s.scratch[slot] = nullptr;
  s.scratch_bytes[slot] = 0;
  const size_t n = bytes + bytes / 4;  // some headroom: shapes grow a little between calls
  s.scratch[slot] = device_alloc(n);
  s.scratch_bytes[slot] = n;
  return s.scratch[slot];
}

}  // namespace dimba::cu

namespace dimba {

CudaDeviceInfo cuda_device_info() {
  cu::ensure_device();
  const cu::State& s = cu::st();
  CudaDeviceInfo d;
  d.name = s.prop.name;
  d.sm = s.prop.major * 10 + s.prop.minor;
  d.multiprocessors = s.prop.multiProcessorCount;
  d.memory_bytes = s.prop.totalGlobalMem;
  d.smem_optin = s.prop.sharedMemPerBlockOptin;
  d.cublas = s.cublas_desc;
  return d;
}

bool cuda_set_reduced_precision(bool on) { return cu::g_reduced.exchange(on); }
bool cuda_reduced_precision() { return cu::g_reduced.load(); }

CudaAttentionKernel cuda_set_attention_kernel(CudaAttentionKernel kernel) { return cu::g_attention.exchange(kernel); }
bool cuda_set_scan_kernel(bool chunked) { return cu::g_chunked_scan.exchange(chunked); }

CudaMemoryStats cuda_memory_stats() {
  cu::State& s = cu::st();
  CudaMemoryStats m;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    m.live_bytes = s.live;
    m.peak_bytes = s.peak;
  }
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) m.device_used = total_b - free_b;
  return m;
}

struct CudaGraph {
  cudaGraphExec_t exec = nullptr;
  ~CudaGraph() {
    if (exec) cudaGraphExecDestroy(exec);
  }
};

std::shared_ptr<CudaGraph> cuda_graph_capture(const std::function<void()>& body) {
  cu::ensure_device();
  cudaStream_t s = cu::stream();
  // Relaxed: host-side calls the ops make (attribute setting, error polling) stay legal; any
  // stream synchronisation inside `body` still fails the capture.
  cu::check(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
  cudaGraph_t graph = nullptr;
  try {
    body();
  } catch (...) {
    cudaStreamEndCapture(s, &graph);
    if (graph) cudaGraphDestroy(graph);
    throw;
  }
  cu::check(cudaStreamEndCapture(s, &graph), "cudaStreamEndCapture (did the body synchronise?)");
  auto g = std::make_shared<CudaGraph>();
  const cudaError_t e = cudaGraphInstantiate(&g->exec, graph, 0);
  cudaGraphDestroy(graph);
  cu::check(e, "cudaGraphInstantiate");
  return g;
}

void cuda_graph_launch(const CudaGraph& graph) { cu::check(cudaGraphLaunch(graph.exec, cu::stream()), "cudaGraphLaunch"); }

void cuda_reset_peak_memory() {
  cu::State& s = cu::st();
  std::lock_guard<std::mutex> lock(s.mu);
  s.peak = s.live;
}

}  // namespace dimba
