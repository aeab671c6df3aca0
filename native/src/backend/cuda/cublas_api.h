// cuBLAS and cuBLASLt opened at run time (dlopen), so the engine builds where only cudart and
// nvcc exist (no cuBLAS headers) and still starts where libcublas is absent. The few entry
// points, enum values and the one struct used are declared here from the cuBLAS API
// (cublas_api.h and cublasLt.h of CUDA 12/13; the C enums are ints in the ABI).
// defines: CublasApi, cublas_api, CublasLtApi, cublas_lt_api, the enum values used
#pragma once
#include <cstddef>
#include <cstdint>
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

// cublasLtMatmulDescAttributes_t, cublasLtMatmulPreferenceAttributes_t, cublasLtEpilogue_t
constexpr int kLtDescTransA = 3, kLtDescTransB = 4, kLtDescEpilogue = 7, kLtDescBiasPointer = 8;
constexpr int kLtDescBiasDataType = 26;
constexpr int kLtPrefMaxWorkspaceBytes = 1;
constexpr int kLtEpilogueDefault = 1, kLtEpilogueBias = 4, kLtEpilogueGelu = 32, kLtEpilogueGeluBias = 36;

// cublasLtMatmulHeuristicResult_t: the algorithm (cublasLtMatmulAlgo_t, 8 x uint64) first.
struct LtHeuristicResult {
  uint64_t algo[8];
  size_t workspace_size;
  int state;
  float waves_count;
  int reserved[4];
};

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

struct CublasLtApi {
  int (*create)(void** handle);                                                   // cublasLtCreate
  int (*desc_create)(void** desc, int compute, int scale_type);                   // cublasLtMatmulDescCreate
  int (*desc_destroy)(void* desc);                                                // cublasLtMatmulDescDestroy
  int (*desc_set)(void* desc, int attr, const void* buf, size_t size);            // ...DescSetAttribute
  int (*layout_create)(void** layout, int type, uint64_t rows, uint64_t cols, int64_t ld);  // cublasLtMatrixLayoutCreate
  int (*layout_destroy)(void* layout);                                            // cublasLtMatrixLayoutDestroy
  int (*pref_create)(void** pref);                                                // cublasLtMatmulPreferenceCreate
  int (*pref_destroy)(void* pref);                                                // cublasLtMatmulPreferenceDestroy
  int (*pref_set)(void* pref, int attr, const void* buf, size_t size);            // ...PreferenceSetAttribute
  int (*heuristic)(void* handle, void* desc, void* a, void* b, void* c, void* d, void* pref, int requested,
                   LtHeuristicResult* results, int* returned);                    // cublasLtMatmulAlgoGetHeuristic
  int (*matmul)(void* handle, void* desc, const void* alpha, const void* A, void* a_layout, const void* B,
                void* b_layout, const void* beta, const void* C, void* c_layout, void* D, void* d_layout,
                const void* algo, void* workspace, size_t workspace_size, void* stream);  // cublasLtMatmul
  std::string library;
};

// Opens libcublasLt once; throws EngineError(BackendUnavailable) naming what was tried.
const CublasLtApi& cublas_lt_api();

}  // namespace dimba::cu
