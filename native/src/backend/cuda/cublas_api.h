// cuBLAS opened at run time (dlopen), so the engine builds where only cudart and nvcc exist
// (no cuBLAS headers) and still starts where libcublas is absent. The few entry points and
// enum values used are declared here from the cuBLAS API (cublas_api.h of CUDA 12/13; the C
// enums are ints in the ABI).
// defines: CublasApi, cublas_api, the enum values used
#pragma once
#include <string>

namespace dimba::cu {

// cublasOperation_t
constexpr int kCublasOpN = 0, kCublasOpT = 1;
// cudaDataType_t (library_types.h)
constexpr int kCudaR32F = 0, kCudaR16F = 2, kCudaR16BF = 14;
// cublasComputeType_t
constexpr int kCublasCompute32F = 68, kCublasCompute32FFastTF32 = 77;
// cublasGemmAlgo_t
constexpr int kCublasGemmDefault = -1;

struct CublasApi {
  int (*create)(void** handle);                        // cublasCreate_v2
  int (*set_stream)(void* handle, void* stream);       // cublasSetStream_v2
  int (*get_version)(void* handle, int* version);      // cublasGetVersion_v2
  // cublasGemmEx: column-major C = alpha op(A) op(B) + beta C.
  int (*gemm_ex)(void* handle, int transa, int transb, int m, int n, int k, const void* alpha, const void* A,
                 int Atype, int lda, const void* B, int Btype, int ldb, const void* beta, void* C, int Ctype, int ldc,
                 int compute, int algo);
  std::string library;  // the file opened
};

// Opens libcublas once; throws EngineError(BackendUnavailable) naming what was tried.
const CublasApi& cublas_api();

}  // namespace dimba::cu
