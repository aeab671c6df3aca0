// dlopen of libcublas and libcublasLt (see cublas_api.h). Tried in order: the soname of CUDA
// 13 and 12, the unversioned name, then the toolkit's lib64 under CUDA_HOME or /usr/local/cuda.
// defines: cublas_api, cublas_lt_api
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

// Opens the first of lib<base>.so.13/.12/.so (then under the toolkit) whose symbols `bind_all`
// finds; throws BackendUnavailable listing every try. `dependency` (libcublasLt for libcublas)
// is opened first from the same toolkit folder: a library opened by path finds its own
// dependencies only on the loader's search path, which need not include that folder.
template <class Api, class Bind>
Api open_library(const std::string& base, const std::string& dependency, Bind bind_all) {
  std::vector<std::string> names = {base + ".so.13", base + ".so.12", base + ".so"};
  std::vector<std::string> deps(names.size());
  const char* home = std::getenv("CUDA_HOME");
  for (std::string dir : {std::string(home ? home : ""), std::string("/usr/local/cuda")}) {
    if (dir.empty()) continue;
    for (const char* v : {".so.13", ".so.12", ".so"}) {
      names.push_back(dir + "/lib64/" + base + v);
      deps.push_back(dependency.empty() ? "" : dir + "/lib64/" + dependency + v);
    }
  }
  std::string tried;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& n = names[i];
    if (!deps[i].empty()) dlopen(deps[i].c_str(), RTLD_NOW | RTLD_GLOBAL);  // may fail: then n says why
    void* lib = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* e = dlerror();
      tried += "\n  " + n + ": " + (e ? e : "not found");
      continue;
    }
    Api api{};
    std::string missing;
    bind_all(lib, api, missing);
    if (!missing.empty()) {
      tried += "\n  " + n + ": lacks " + missing;
      dlclose(lib);
      continue;
    }
    api.library = n;
    return api;
  }
  throw EngineError(ErrorCode::BackendUnavailable,
                    "backend 'cuda' is not available: " + base + " could not be opened:" + tried);
}

CublasApi open_cublas() {
  return open_library<CublasApi>("libcublas", "libcublasLt", [](void* lib, CublasApi& api, std::string& missing) {
    bind(lib, api.create, "cublasCreate_v2", missing);
    bind(lib, api.set_stream, "cublasSetStream_v2", missing);
    bind(lib, api.get_version, "cublasGetVersion_v2", missing);
    bind(lib, api.gemm_ex, "cublasGemmEx", missing);
  });
}

CublasLtApi open_cublas_lt() {
  return open_library<CublasLtApi>("libcublasLt", "", [](void* lib, CublasLtApi& api, std::string& missing) {
    bind(lib, api.create, "cublasLtCreate", missing);
    bind(lib, api.desc_create, "cublasLtMatmulDescCreate", missing);
    bind(lib, api.desc_destroy, "cublasLtMatmulDescDestroy", missing);
    bind(lib, api.desc_set, "cublasLtMatmulDescSetAttribute", missing);
    bind(lib, api.layout_create, "cublasLtMatrixLayoutCreate", missing);
    bind(lib, api.layout_destroy, "cublasLtMatrixLayoutDestroy", missing);
    bind(lib, api.pref_create, "cublasLtMatmulPreferenceCreate", missing);
    bind(lib, api.pref_destroy, "cublasLtMatmulPreferenceDestroy", missing);
    bind(lib, api.pref_set, "cublasLtMatmulPreferenceSetAttribute", missing);
    bind(lib, api.heuristic, "cublasLtMatmulAlgoGetHeuristic", missing);
    bind(lib, api.matmul, "cublasLtMatmul", missing);
  });
}

// Opens once per process, remembering a failure.
template <class Api>
const Api& open_once(Api (*open)()) {
  static std::once_flag once;
  static Api api;
  static std::string error;
  std::call_once(once, [&] {
    try {
      api = open();
    } catch (const EngineError& e) {
      error = e.what();
    }
  });
  if (!error.empty()) throw EngineError(ErrorCode::BackendUnavailable, error);
  return api;
}

}  // namespace

const CublasApi& cublas_api() { return open_once(open_cublas); }
const CublasLtApi& cublas_lt_api() { return open_once(open_cublas_lt); }

}  // namespace dimba::cu
#endif  // DIMBA_HAVE_CUDA
