// Vulkan sgemm (shaders/sgemm.comp): row-major f32 GEMM with transposes, leading dimensions,
// alpha and beta, on linear.comp's tiles.
// defines: vk::sgemm
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/ops.h"

namespace dimba::vk {
namespace {
const uint32_t kSpv[] = {
#include "shaders/sgemm.spv.inc"
};
const Shader kShader{"sgemm", kSpv, sizeof(kSpv) / 4, 3};
}  // namespace

void sgemm(bool transA, bool transB, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
           int ldb, float beta, float* C, int ldc) {
  Context& c = Context::get();
  const char* op = "sgemm";
  if (M < 0 || N < 0 || K < 0 || lda < 1 || ldb < 1 || ldc < 1)
    throw EngineError(ErrorCode::InvalidArgument, "vulkan sgemm: negative size or leading dimension < 1");
  if (M == 0 || N == 0) return;
  u32(int64_t(transA ? K : M) * lda, op);
  u32(int64_t(transB ? N : K) * ldb, op);
  u32(int64_t(M) * ldc, op);
  struct { uint32_t M, K, N, yo, xo, wo, lda, ldb, ldc, transA, transB; float alpha, beta; } pc{
      uint32_t(M), uint32_t(K), uint32_t(N), c.elem_offset(C, 4), c.elem_offset(A, 4), c.elem_offset(B, 4),
      uint32_t(lda), uint32_t(ldb), uint32_t(ldc), transA ? 1u : 0u, transB ? 1u : 0u, alpha, beta};
  c.dispatch(kShader, {C, A, B}, &pc, sizeof pc, groups(N, 64), groups(M, 64));
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
