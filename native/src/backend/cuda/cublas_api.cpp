// dlopen of libcublas (see cublas_api.h). Tried in order: the soname of CUDA 13 and 12, the
// unversioned name, then the toolkit's lib64 under CUDA_HOME or /usr/local/cuda.
// defines: cublas_api
#ifdef DIMBA_HAVE_CUDA
#include "backend/cuda/cublas_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <vector>

#include "core/error.h"

namespace dimba::cu {
namespace {

template <class F>
void bind(void* lib, F& fn, const char* name, std::string& missing) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn) missing += std::string(missing.empty() ? "" : ", ") + name;
}

CublasApi open_cublas() {
  std::vector<std::string> names = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};
  const char* home = std::getenv("CUDA_HOME");
  for (std::string dir : {std::string(home ? home : ""), std::string("/usr/local/cuda")}) {
    if (dir.empty()) continue;
    for (const char* n : {"/lib64/libcublas.so.13", "/lib64/libcublas.so.12", "/lib64/libcublas.so"})
      names.push_back(dir + n);
  }
  std::string tried;
  for (const std::string& n : names) {
    void* lib = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      tried += "\n  " + n + ": " + (e ? e : "not found");
      continue;
    }
    CublasApi api{};
    std::string missing;
    bind(lib, api.create, "cublasCreate_v2", missing);
    bind(lib, api.set_stream, "cublasSetStream_v2", missing);
    bind(lib, api.get_version, "cublasGetVersion_v2", missing);
    bind(lib, api.gemm_ex, "cublasGemmEx", missing);
    if (!missing.empty()) {
      tried += "\n  " + n + ": lacks " + missing;
      dlclose(lib);
      continue;
    }
    api.library = n;
    return api;
  }
  throw EngineError(ErrorCode::BackendUnavailable, "backend 'cuda' is not available: cuBLAS could not be opened:" + tried);
}

}  // namespace

const CublasApi& cublas_api() {
  static std::once_flag once;
  static CublasApi api;
  static std::string error;
  std::call_once(once, [] {
    try {
      api = open_cublas();
    } catch (const EngineError& e) {
      error = e.what();
    }
  });
  if (!error.empty()) throw EngineError(ErrorCode::BackendUnavailable, error);
  return api;
}

}  // namespace dimba::cu
#endif  // DIMBA_HAVE_CUDA
