// The PTX instructions the tensor-core attention (attention.cu) issues itself, one inline
// function each: the bf16 mma.sync, ldmatrix (plain and transposed), cp.async with its group
// commit and wait, and the softmax's ex2. Built by the CPU emulator (native/tests/cuda_emu,
// DIMBA_CUDA_EMU), each forwards to the emulator's version, written from the PTX ISA's
// description of the instruction (ex2 to the host's exp2).
// defines: mma_bf16, ldmatrix_x4, ldmatrix_x4_trans, cp_async16, cp_async_commit, cp_async_wait,
//          ex2_approx
#pragma once
#include <cmath>
#include <cstdint>

#include <cuda_runtime.h>

namespace dimba::cu {

#ifdef DIMBA_CUDA_EMU

__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  ::emu::mma_m16n8k16_bf16(d, a, b0, b1);
}
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row) { ::emu::ldmatrix_x4(r, false, row); }
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row) {
  ::emu::ldmatrix_x4(r, true, row);
}
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  ::emu::cp_async16(smem, gmem, valid);
}
__device__ __forceinline__ void cp_async_commit() { ::emu::cp_async_commit(); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  ::emu::cp_async_wait(N);
}
__device__ __forceinline__ float ex2_approx(float x) { return std::exp2(x); }

#else

// d += a b: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 (fragment layouts: attention.cu).
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ unsigned smem_address(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

// Four 8 x 8 matrices of bf16 from shared memory: lane 8 i + r gives row r of matrix i.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_address(row)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_address(row)));
}

// 16 bytes global -> shared without passing through registers; `valid` false writes zeros
// (src-size 0: nothing is read).
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_address(smem)), "l"(gmem),
               "r"(valid ? 16 : 0)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most N of this thread's committed groups are still in flight.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// 2^x in one special-function instruction (ex2.approx.ftz.f32: relative error about 2^-22,
// 2^-inf = 0); expf is this plus range-reduction arithmetic, which the softmax does not need.
__device__ __forceinline__ float ex2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

#endif

}  // namespace dimba::cu
