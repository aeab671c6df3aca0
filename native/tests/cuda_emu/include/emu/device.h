// The device side of the CUDA emulator (see ../../README.md): what a kernel sees when a .cu
// file is compiled by the host compiler. Kernels are plain functions; every CUDA thread of a
// block runs as a fiber on one OS thread, and blocks run one after another, so `__shared__`
// can be a function-local static. Fibers switch only at barriers (__syncthreads, the warp
// collectives), which is where CUDA threads may observe each other.
// defines: dim3 and the vector types, threadIdx/blockIdx/blockDim/gridDim, the barriers and
//          warp shuffles, atomics, the math intrinsics used, emu::Launch (kernel launches, see
//          translate.cmake), and the PTX the tensor-core attention uses (backend/cuda/ptx.h):
//          emu::mma_m16n8k16_bf16, emu::ldmatrix_x4, emu::cp_async16/commit/wait
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// Blocks run one at a time on one OS thread: a static is one copy per block, as shared memory.
#define __shared__ static

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

namespace emu {
extern uint3 g_thread_idx, g_block_idx;
extern dim3 g_block_dim, g_grid_dim;
}  // namespace emu
#define threadIdx (static_cast<const uint3&>(::emu::g_thread_idx))
#define blockIdx (static_cast<const uint3&>(::emu::g_block_idx))
#define blockDim (static_cast<const dim3&>(::emu::g_block_dim))
#define gridDim (static_cast<const dim3&>(::emu::g_grid_dim))

// ---- barriers and warp collectives (runtime.cpp) -------------------------------------------
namespace emu {
// Waits until every thread of the block that has not exited arrives; returns whether any of
// them passed a non-zero `pred`.
bool block_barrier(int pred);
// Waits until every lane of `mask` in this thread's warp arrives (each must name the same
// mask; a lane that exited or does not exist is an error). `value` (up to 8 bytes) is
// published to the other lanes; the return points at the slot array of this round, valid until
// this lane's next warp collective.
const uint64_t* warp_exchange(unsigned mask, uint64_t value);
// mma.sync's warp-wide product: each lane publishes its A and B fragment registers (a[0..3],
// b0, b1); returns the 16 x 8 product A B (row-major), computed once per warp and valid until
// this lane's next warp collective. d's fragment layout is the caller's.
const float* warp_mma_bf16(const uint32_t (&words)[6]);
int lane_id();
[[noreturn]] void fail(const char* what);

template <class T>
uint64_t to_word(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle of a type over 8 bytes");
  uint64_t w = 0;
  std::memcpy(&w, &v, sizeof(T));
  return w;
}
template <class T>
T from_word(uint64_t w) {
  T v;
  std::memcpy(&v, &w, sizeof(T));
  return v;
}
}  // namespace emu

inline void __syncthreads() { ::emu::block_barrier(0); }
inline int __syncthreads_or(int pred) { return ::emu::block_barrier(pred) ? 1 : 0; }
inline void __syncwarp(unsigned mask = 0xffffffffu) { ::emu::warp_exchange(mask, 0); }

template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  const uint64_t* slots = ::emu::warp_exchange(mask, ::emu::to_word(v));
  const int lane = ::emu::lane_id();
  const int from = (lane & ~(width - 1)) + (src & (width - 1));
  return ::emu::from_word<T>(slots[from]);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  const uint64_t* slots = ::emu::warp_exchange(mask, ::emu::to_word(v));
  const int lane = ::emu::lane_id();
  int from = lane ^ lane_mask;
  if ((from & ~(width - 1)) != (lane & ~(width - 1))) from = lane;  // outside the segment: own value
  return ::emu::from_word<T>(slots[from]);
}
// ---- atomics: blocks and fibers never run at the same time, so plain read-modify-writes ------
template <class T>
T atomicAdd(T* p, T v) {
  const T old = *p;
  *p = old + v;
  return old;
}
// ---- math intrinsics ------------------------------------------------------------------------
using std::ceil;
using std::exp;
using std::sqrt;
inline float __expf(float x) { return std::exp(x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }

// ---- kernel launches ------------------------------------------------------------------------
// translate.cmake turns `kernel<<<grid, block, smem, stream>>>(args)` into
// `kernel * ::emu::Launch(grid, block, smem, stream)(args)`: the call binds first and makes a
// PendingLaunch holding the arguments; operator* with the kernel runs (or captures) it.
struct CUstream_st;
namespace emu {
struct LaunchConfig {
  dim3 grid, block;
  size_t smem;
  CUstream_st* stream;
};
// Runs `thread` as every thread of every block of `cfg` (or records it while the stream is
// captured); `kernel` identifies the function for its attributes (cudaFuncSetAttribute).
// Sets the launch error that cudaGetLastError reports.
void launch(const LaunchConfig& cfg, const void* kernel, std::function<void()> thread);
void* dynamic_shared_memory();

template <class... A>
struct PendingLaunch {
  LaunchConfig cfg;
  std::tuple<A...> args;
};
struct Launch {
  LaunchConfig cfg;
  Launch(dim3 grid, dim3 block, size_t smem = 0, CUstream_st* stream = nullptr) : cfg{grid, block, smem, stream} {}
  template <class... A>
  PendingLaunch<std::decay_t<A>...> operator()(A&&... a) const {
    return {cfg, std::tuple<std::decay_t<A>...>(std::forward<A>(a)...)};
  }
};
template <class... P, class... A>
void operator*(void (*kernel)(P...), PendingLaunch<A...>&& p) {
  static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong number of arguments");
  launch(p.cfg, reinterpret_cast<const void*>(kernel), [kernel, args = std::move(p.args)] {
    std::apply([kernel](const A&... a) { kernel(static_cast<P>(a)...); }, args);
  });
}

// ldmatrix.sync.aligned.m8n8.x4{.trans}.shared.b16: the warp loads four 8 x 8 matrices of 16-bit
// elements; lane 8 i + r gives the address of row r of matrix i (16-byte aligned). As the PTX
// ISA documents it, with lane = 4 * group + t, regs[i] = M_i[group][2t..2t+1] (the lower column
// in the low half), or with .trans M_i[2t][group] | M_i[2t+1][group] << 16.
void ldmatrix_x4(uint32_t (&regs)[4], bool trans, const void* row);
// cp.async.cg.shared.global of 16 bytes (`valid` false: src-size 0, sixteen zero bytes),
// cp.async.commit_group and cp.async.wait_group `pending`. A group's copies land when its thread
// waits for it and not before, so a kernel that reads a tile before waiting reads what was there.
void cp_async16(void* dst, const void* src, bool valid);
void cp_async_commit();
void cp_async_wait(int pending);

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32: d += a b for the warp's 16 x 16 A and
// 16 x 8 B, each lane holding its fragments (their layouts: runtime.cpp, warp_mma_bf16). D's
// layout (PTX ISA, as theirs), with lane = 4 * group + t: d[0], d[1] = D[group][2t..2t+1],
// d[2], d[3] = D[group+8][2t..2t+1].
inline void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  const uint32_t mine[6] = {a[0], a[1], a[2], a[3], b0, b1};
  const float* ab = warp_mma_bf16(mine);  // [16][8]
  const int lane = lane_id(), g = lane >> 2, t = lane & 3;
  d[0] += ab[g * 8 + 2 * t];
  d[1] += ab[g * 8 + 2 * t + 1];
  d[2] += ab[(g + 8) * 8 + 2 * t];
  d[3] += ab[(g + 8) * 8 + 2 * t + 1];
}
}  // namespace emu
