// The CPU emulator's runtime: the fiber scheduler behind kernel launches and the barriers
// (emu/device.h), and the CUDA runtime API of cuda_runtime.h.
//
// A launch runs its blocks one after another. A block's threads are fibers on this OS thread,
// each running until it reaches a barrier or returns. Warps run one at a time, each as far as
// it can get (to a __syncthreads or its end) before the next starts: first warp first, or
// with DIMBA_CUDA_EMU_ORDER=reverse the last block, warp and lane first, so a missing barrier shows
// as a wrong result, whether a warp reads what another has yet to write or overwrites what
// another has yet to read. A barrier
// releases when every thread it waits for has arrived; if no thread can run and some have not
// returned, the kernel deadlocks on a GPU too, and the emulator stops with where each thread
// waits. Errors a GPU reports as undefined behaviour (a warp collective with a lane that has
// returned or does not exist, lanes disagreeing on the mask) stop the process with a message.
// Device memory sits between PROT_NONE pages, so a kernel that reads or writes past a buffer
// faults here as on the GPU, and the fault is reported with the block and thread; dynamic
// shared memory starts each block filled with 0xff bytes (NaN as floats), so reading what no
// thread wrote shows.
// defines: the emu:: entry points of emu/device.h and the cuda* functions of cuda_runtime.h
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "cuda_runtime.h"

namespace emu {

uint3 g_thread_idx, g_block_idx;
dim3 g_block_dim, g_grid_dim;

void fail(const char* what) {
  std::fprintf(stderr, "cuda emulator: %s (block %u,%u,%u thread %u,%u,%u)\n", what, g_block_idx.x, g_block_idx.y,
               g_block_idx.z, g_thread_idx.x, g_thread_idx.y, g_thread_idx.z);
  std::abort();
}

namespace {

// ---- fibers ---------------------------------------------------------------------------------
// emu_switch(save, to): saves the callee-saved registers and the FP control words on this
// stack, stores the stack pointer in *save, and resumes the fiber whose stack pointer is `to`.
extern "C" void emu_switch(void** save, void* to);
asm(R"(
  .pushsection .text
  .globl emu_switch
  .type emu_switch, @function
emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size emu_switch, .-emu_switch
  .popsection
)");

constexpr size_t kStackBytes = size_t(256) << 10;

enum class State : uint8_t { Fresh, Ready, AtBlock, AtWarp, Done };
const char* state_name(State s) {
  switch (s) {
    case State::Fresh: return "not started";
    case State::Ready: return "ready";
    case State::AtBlock: return "__syncthreads";
    case State::AtWarp: return "a warp collective";
    case State::Done: return "returned";
  }
  return "?";
}

struct AsyncCopy {  // cp.async of 16 bytes
  void* dst;
  const void* src;
  bool valid;  // false: zeros
};

struct Fiber {
  std::vector<AsyncCopy> cp_open;               // issued since the last commit
  std::deque<std::vector<AsyncCopy>> cp_groups;  // committed, not yet waited for (oldest first)
  void* sp = nullptr;
  char* stack = nullptr;  // the top of its stack (null until started)
  State state = State::Fresh;
  unsigned mask = 0;  // AtWarp: the lanes it waits for
  uint3 tid{};
  int warp = 0, lane = 0;
};

struct Warp {
  unsigned gen = 0;
  uint64_t slots[2][32];
  uint32_t mma[2][32][6];    // warp_mma_bf16: each lane's fragment registers
  float product[2][16][8];   // and the product, once the first lane after the barrier made it
  bool product_ready[2] = {false, false};
  int waiting = 0;  // lanes at a collective
};

struct Block {
  std::vector<Fiber> fibers;
  std::vector<Warp> warps;
  unsigned gen = 0;
  int any[2] = {0, 0};  // __syncthreads_or per barrier parity
  int threads = 0;
  int live = 0, waiting = 0;  // threads that have not returned; of those, at __syncthreads
};

Block g_block;
Fiber* g_cur = nullptr;
void* g_sched_sp = nullptr;
const std::function<void()>* g_thread = nullptr;  // the kernel's body with its arguments
std::vector<char*> g_free_stacks;
unsigned char* g_dynamic_smem = nullptr;

char* take_stack() {
  if (!g_free_stacks.empty()) {
    char* s = g_free_stacks.back();
    g_free_stacks.pop_back();
    return s;
  }
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  void* m =
      mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) fail("cannot map a fiber stack");
  mprotect(m, page, PROT_NONE);  // overflow faults instead of corrupting a neighbour
  return static_cast<char*>(m) + page + kStackBytes;
}

extern "C" [[noreturn]] void emu_fiber_entry() {
  (*g_thread)();
  g_cur->state = State::Done;
  emu_switch(&g_cur->sp, g_sched_sp);
  __builtin_unreachable();
}

void start(Fiber& f) {
  f.stack = take_stack();
  uint64_t* sp = reinterpret_cast<uint64_t*>(f.stack);
  *--sp = 0;                                               // emu_fiber_entry's return address
  *--sp = reinterpret_cast<uint64_t>(&emu_fiber_entry);   // where emu_switch returns to
  for (int i = 0; i < 6; ++i) *--sp = 0;                   // rbp rbx r12-r15
  *--sp = 0x1f80ull | (0x037full << 32);                   // default MXCSR, x87 control word
  f.sp = sp;
  f.state = State::Ready;
}

void yield(State s) {
  if (!g_cur) fail("a barrier or warp collective outside a kernel");
  g_cur->state = s;
  emu_switch(&g_cur->sp, g_sched_sp);
}

// ---- barrier release ------------------------------------------------------------------------
void try_release_block(Block& b) {
  if (b.waiting == 0 || b.waiting < b.live) return;
  b.waiting = 0;
  b.any[(b.gen + 1) & 1] = 0;
  ++b.gen;
  for (Fiber& f : b.fibers)
    if (f.state == State::AtBlock) f.state = State::Ready;
}

// Releases warp `w` once every lane of the mask its waiting lanes name has arrived. Called
// when lane `f` of it has arrived at a collective or returned (an error if others wait for it).
void try_release_warp(Block& b, const Fiber& f) {
  Warp& warp = b.warps[size_t(f.warp)];
  if (warp.waiting == 0) return;
  const int first = f.warp * 32, lanes = std::min(32, b.threads - first);
  const unsigned present = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1u;
  if (f.state == State::AtWarp && warp.waiting < __builtin_popcount(f.mask & present)) return;  // more to come
  unsigned mask = 0;
  bool waiting = false;
  for (int l = 0; l < lanes; ++l) {
    const Fiber& x = b.fibers[size_t(first + l)];
    if (x.state != State::AtWarp) continue;
    if (waiting && x.mask != mask) fail("lanes of a warp wait at collectives with different masks");
    mask = x.mask;
    waiting = true;
  }
  for (int l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    if (l >= lanes) fail("a warp collective's mask names a lane that does not exist");
    const Fiber& x = b.fibers[size_t(first + l)];
    if (x.state == State::Done) fail("a warp collective's mask names a lane that has returned");
    if (x.state != State::AtWarp) return;
  }
  for (int l = 0; l < lanes; ++l) {
    Fiber& x = b.fibers[size_t(first + l)];
    if (x.state == State::AtWarp) {
      if (!(mask >> l & 1u)) fail("a lane outside the mask waits at a warp collective");
      x.state = State::Ready;
    }
  }
  warp.waiting = 0;
  ++warp.gen;
}

[[noreturn]] void deadlock(const Block& b) {
  std::string msg = "deadlock: no thread can run;";
  int shown = 0;
  for (const Fiber& f : b.fibers) {
    if (f.state == State::Done) continue;
    if (shown++ == 8) {
      msg += " ...";
      break;
    }
    msg += " thread " + std::to_string(f.tid.x) + "," + std::to_string(f.tid.y) + "," + std::to_string(f.tid.z) +
           " waits at " + state_name(f.state) + ";";
  }
  fail(msg.c_str());
}

bool reverse_order() {
  static const bool r = [] {
    const char* e = std::getenv("DIMBA_CUDA_EMU_ORDER");
    return e && std::string(e) == "reverse";
  }();
  return r;
}

// cp.async copies land at the wait that covers them, the latest a GPU may land them, so a read
// before the wait shows; with DIMBA_CUDA_EMU_ASYNC=eager at the issue, the earliest, so a copy
// into a tile other warps may still be reading shows.
bool eager_copies() {
  static const bool e = [] {
    const char* v = std::getenv("DIMBA_CUDA_EMU_ASYNC");
    return v && std::string(v) == "eager";
  }();
  return e;
}

void land(const AsyncCopy& c) {
  if (c.valid)
    std::memcpy(c.dst, c.src, 16);
  else
    std::memset(c.dst, 0, 16);
}

// A fault inside a kernel names where it happened, then crashes as it would have anyway.
void on_fault(int sig) {
  if (g_cur) {
    std::fprintf(stderr,
                 "cuda emulator: memory fault in a kernel (outside its buffers, or a fiber stack overflow) at block "
                 "%u,%u,%u thread %u,%u,%u\n",
                 g_block_idx.x, g_block_idx.y, g_block_idx.z, g_thread_idx.x, g_thread_idx.y, g_thread_idx.z);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_fault_report() {
  thread_local bool installed = false;  // the alternate stack is per thread
  if (installed) return;
  installed = true;
  static thread_local std::vector<char> alt(size_t(64) << 10);
  stack_t ss{};
  ss.ss_sp = alt.data();
  ss.ss_size = alt.size();
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_fault;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGSEGV, &sa, nullptr);
  sigaction(SIGBUS, &sa, nullptr);
}

void run_block(size_t smem) {
  Block& b = g_block;
  const int n = b.threads;
  for (int i = 0; i < n; ++i) {
    Fiber& f = b.fibers[size_t(i)];
    f = Fiber{};
    f.tid = {unsigned(i) % g_block_dim.x, unsigned(i) / g_block_dim.x % g_block_dim.y,
             unsigned(i) / (g_block_dim.x * g_block_dim.y)};
    f.warp = i / 32;
    f.lane = i % 32;
  }
  for (Warp& w : b.warps) w.gen = 0, w.waiting = 0;
  b.gen = 0;
  b.any[0] = b.any[1] = 0;
  b.live = n;
  b.waiting = 0;
  if (smem) std::memset(g_dynamic_smem, 0xff, smem);
  const bool rev = reverse_order();
  const int warps = (n + 31) / 32;
  while (b.live > 0) {
    bool ran = false;
    for (int wi = 0; wi < warps; ++wi) {
      const int w = rev ? warps - 1 - wi : wi, lanes = std::min(32, n - 32 * w);
      // One warp runs until each of its threads waits at __syncthreads or has returned, so
      // it gets ahead of the others as far as CUDA allows (a missing barrier shows).
      for (bool warp_ran = true; warp_ran;) {
        warp_ran = false;
        for (int k = 0; k < lanes; ++k) {
          Fiber& f = b.fibers[size_t(32 * w + (rev ? lanes - 1 - k : k))];
          if (f.state == State::Fresh) start(f);
          if (f.state != State::Ready) continue;
          warp_ran = ran = true;
          g_cur = &f;
          g_thread_idx = f.tid;
          emu_switch(&g_sched_sp, f.sp);
          g_cur = nullptr;
          if (f.state == State::Done) {
            g_free_stacks.push_back(f.stack);
            --b.live;
            try_release_block(b);
            try_release_warp(b, f);
          } else if (f.state == State::AtBlock) {
            ++b.waiting;
            try_release_block(b);
          } else {
            ++b.warps[size_t(f.warp)].waiting;
            try_release_warp(b, f);
          }
        }
      }
    }
    if (!ran) deadlock(b);
  }
}

}  // namespace

int lane_id() { return g_cur ? g_cur->lane : 0; }

bool block_barrier(int pred) {
  const int p = int(g_block.gen & 1);
  if (pred) g_block.any[p] = 1;
  yield(State::AtBlock);
  return g_block.any[p] != 0;
}

const uint64_t* warp_exchange(unsigned mask, uint64_t value) {
  if (!g_cur) fail("a warp collective outside a kernel");
  Warp& w = g_block.warps[size_t(g_cur->warp)];
  const int p = int(w.gen & 1);
  w.slots[p][g_cur->lane] = value;
  g_cur->mask = mask;
  yield(State::AtWarp);
  return w.slots[p];
}

// The fragment layouts of mma.m16n8k16 with .bf16 inputs (PTX ISA, "Matrix Fragments for
// mma.m16n8k16 with floating point type"), written here from the documentation rather than
// from the kernel that uses them. With lane = 4 * group + t, each 32-bit register holds two
// bf16, the lower column (or k) in the low half:
//   A (16 x 16, row-major): a[0] = A[group][2t..2t+1], a[1] = A[group+8][2t..2t+1],
//                           a[2] = A[group][2t+8..2t+9], a[3] = A[group+8][2t+8..2t+9];
//   B (16 x 8, column):     b0 = B[2t..2t+1][group], b1 = B[2t+8..2t+9][group].
const float* warp_mma_bf16(const uint32_t (&words)[6]) {
  if (!g_cur) fail("mma.sync outside a kernel");
  Warp& w = g_block.warps[size_t(g_cur->warp)];
  const int p = int(w.gen & 1);
  std::memcpy(w.mma[p][g_cur->lane], words, sizeof words);
  w.product_ready[p] = false;
  g_cur->mask = 0xffffffffu;
  yield(State::AtWarp);
  if (!w.product_ready[p]) {
    auto half = [](uint32_t word, int j) { return dimba::bf16_to_f32(uint16_t(word >> (16 * j))); };
    float A[16][16], B[16][8];
    for (int l = 0; l < 32; ++l) {
      const int g = l >> 2, t = l & 3;
      const uint32_t* r = w.mma[p][l];
      for (int j = 0; j < 2; ++j) {
        A[g][2 * t + j] = half(r[0], j);
        A[g + 8][2 * t + j] = half(r[1], j);
        A[g][2 * t + 8 + j] = half(r[2], j);
        A[g + 8][2 * t + 8 + j] = half(r[3], j);
        B[2 * t + j][g] = half(r[4], j);
        B[2 * t + 8 + j][g] = half(r[5], j);
      }
    }
    for (int i = 0; i < 16; ++i)
      for (int n = 0; n < 8; ++n) {
        float s = 0.0f;
        for (int k = 0; k < 16; ++k) s += A[i][k] * B[k][n];
        w.product[p][i][n] = s;
      }
    w.product_ready[p] = true;
  }
  return &w.product[p][0][0];
}

void ldmatrix_x4(uint32_t (&regs)[4], bool trans, const void* row) {
  if (reinterpret_cast<uintptr_t>(row) % 16) fail("ldmatrix row address not 16-byte aligned");
  const uint64_t* rows = warp_exchange(0xffffffffu, to_word(row));
  const int lane = lane_id(), g = lane >> 2, t = lane & 3;
  auto at = [&](int i, int r, int c) {  // element (r, c) of matrix i
    uint16_t v;
    std::memcpy(&v, reinterpret_cast<const unsigned char*>(rows[8 * i + r]) + 2 * c, 2);
    return uint32_t(v);
  };
  for (int i = 0; i < 4; ++i)
    regs[i] = trans ? at(i, 2 * t, g) | at(i, 2 * t + 1, g) << 16 : at(i, g, 2 * t) | at(i, g, 2 * t + 1) << 16;
}

void cp_async16(void* dst, const void* src, bool valid) {
  if (!g_cur) fail("cp.async outside a kernel");
  if ((reinterpret_cast<uintptr_t>(dst) | reinterpret_cast<uintptr_t>(src)) % 16)
    fail("cp.async of 16 bytes from or to an address not 16-byte aligned");
  if (eager_copies())
    land({dst, src, valid});
  else
    g_cur->cp_open.push_back({dst, src, valid});
}

void cp_async_commit() {
  if (!g_cur) fail("cp.async.commit_group outside a kernel");
  g_cur->cp_groups.push_back(std::move(g_cur->cp_open));
  g_cur->cp_open.clear();
}

void cp_async_wait(int pending) {
  if (!g_cur) fail("cp.async.wait_group outside a kernel");
  auto& groups = g_cur->cp_groups;
  for (; int(groups.size()) > pending; groups.pop_front())
    for (const AsyncCopy& c : groups.front()) land(c);
}

void* dynamic_shared_memory() { return g_dynamic_smem; }

}  // namespace emu

// ---- the runtime API ------------------------------------------------------------------------
struct CUstream_st {
  bool capturing = false;
  bool invalidated = false;
  CUgraph_st* graph = nullptr;
};
struct CUevent_st {
  std::chrono::steady_clock::time_point t;
};
// A graph is the operations recorded during capture, replayed in order by cudaGraphLaunch.
struct CUgraph_st {
  std::vector<std::function<void()>> nodes;
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> nodes;
};

namespace {

std::recursive_mutex g_mu;  // one launch at a time (the fibers' state is global)
cudaError_t g_last = cudaSuccess;
constexpr size_t kDeviceMemory = size_t(8) << 30;
constexpr size_t kSharedDefault = 48 << 10;

// The shared memory a block may opt into: the H100's 227 KiB, or DIMBA_CUDA_EMU_SMEM_OPTIN
// bytes (101376: the 99 KiB of sm_86/89/120 cards), so the kernel choices that follow it run.
size_t shared_optin() {
  static const size_t v = [] {
    const char* e = std::getenv("DIMBA_CUDA_EMU_SMEM_OPTIN");
    return e ? size_t(std::strtoull(e, nullptr, 10)) : size_t(227) << 10;
  }();
  return v;
}

struct Mapping {
  void* base;
  size_t len;
  size_t bytes;
};
std::map<uintptr_t, Mapping> g_allocs;
size_t g_used = 0;
std::map<const void*, int> g_max_dynamic_smem;  // cudaFuncSetAttribute

cudaError_t set_error(cudaError_t e) {
  if (e != cudaSuccess) g_last = e;
  return e;
}

// Runs `op` now, or records it while `s` is being captured.
void enqueue(cudaStream_t s, std::function<void()> op) {
  if (s && s->capturing)
    s->graph->nodes.push_back(std::move(op));
  else
    op();
}

void run_grid(const emu::LaunchConfig& cfg, const std::function<void()>& thread) {
  std::lock_guard<std::recursive_mutex> lock(g_mu);
  using namespace emu;
  install_fault_report();
  const int threads = int(cfg.block.x * cfg.block.y * cfg.block.z);
  g_block.threads = threads;
  g_block.fibers.resize(size_t(threads));
  g_block.warps.resize(size_t((threads + 31) / 32));
  std::vector<unsigned char> smem(cfg.smem + 128);
  g_dynamic_smem = reinterpret_cast<unsigned char*>((uintptr_t(smem.data()) + 127) & ~uintptr_t(127));
  g_thread = &thread;
  g_block_dim = cfg.block;
  g_grid_dim = cfg.grid;
  // Blocks in order, or last first under DIMBA_CUDA_EMU_ORDER=reverse: a kernel whose blocks
  // depend on each other's writes within one launch (which a GPU runs in no set order) gives
  // another result in one of the two orders.
  const uint64_t gx = cfg.grid.x, gxy = gx * cfg.grid.y, blocks = gxy * cfg.grid.z;
  for (uint64_t i = 0; i < blocks; ++i) {
    const uint64_t b = reverse_order() ? blocks - 1 - i : i;
    g_block_idx = {unsigned(b % gx), unsigned(b % gxy / gx), unsigned(b / gxy)};
    run_block(cfg.smem);
  }
  g_dynamic_smem = nullptr;
  g_thread = nullptr;
}

cudaError_t validate(const emu::LaunchConfig& cfg, const void* kernel) {
  const dim3 g = cfg.grid, b = cfg.block;
  if (!g.x || !g.y || !g.z || !b.x || !b.y || !b.z) return cudaErrorInvalidConfiguration;
  if (g.y > 65535 || g.z > 65535 || g.x > 0x7fffffffu) return cudaErrorInvalidConfiguration;
  if (b.z > 64 || size_t(b.x) * b.y * b.z > 1024) return cudaErrorInvalidConfiguration;
  if (cfg.smem > shared_optin()) return cudaErrorInvalidValue;
  if (cfg.smem > kSharedDefault) {
    auto it = g_max_dynamic_smem.find(kernel);
    if (it == g_max_dynamic_smem.end() || size_t(it->second) < cfg.smem) return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}

}  // namespace

namespace emu {
void launch(const LaunchConfig& cfg, const void* kernel, std::function<void()> thread) {
  if (set_error(validate(cfg, kernel)) != cudaSuccess) return;
  enqueue(cfg.stream, [cfg, thread = std::move(thread)] { run_grid(cfg, thread); });
}
}  // namespace emu

extern "C" {

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
  }
  return "cudaErrorUnknown";
}
const char* cudaGetErrorString(cudaError_t e) { return cudaGetErrorName(e); }

cudaError_t cudaGetLastError() {
  const cudaError_t e = g_last;
  g_last = cudaSuccess;
  return e;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) { return set_error(device == 0 ? cudaSuccess : cudaErrorInvalidDevice); }
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device != 0) return set_error(cudaErrorInvalidDevice);
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof p->name, "CUDA emulator (CPU)");
  p->totalGlobalMem = kDeviceMemory;
  p->sharedMemPerBlock = kSharedDefault;
  p->sharedMemPerBlockOptin = shared_optin();
  p->multiProcessorCount = 132;
  p->major = 9;
  p->minor = 0;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (device != 0) return set_error(cudaErrorInvalidDevice);
  if (attr != cudaDevAttrMultiProcessorCount) return set_error(cudaErrorInvalidValue);
  *value = 132;
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  *stream = new CUstream_st;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (s && s->capturing) {
    s->invalidated = true;
    return set_error(cudaErrorStreamCaptureUnsupported);
  }
  return cudaSuccess;
}

cudaError_t cudaMalloc(void** p, size_t bytes) {
  std::lock_guard<std::recursive_mutex> lock(g_mu);
  *p = nullptr;
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  const size_t rounded = (bytes + 255) / 256 * 256, data = (rounded + page - 1) / page * page;
  if (g_used + rounded > kDeviceMemory) return set_error(cudaErrorMemoryAllocation);
  void* m = mmap(nullptr, data + 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return set_error(cudaErrorMemoryAllocation);
  char* base = static_cast<char*>(m);
  mprotect(base, page, PROT_NONE);
  mprotect(base + page + data, page, PROT_NONE);
  char* user = base + page + (data - rounded);  // ends at the guard page, 256-byte aligned
  g_allocs[uintptr_t(user)] = {m, data + 2 * page, rounded};
  g_used += rounded;
  *p = user;
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  std::lock_guard<std::recursive_mutex> lock(g_mu);
  if (!p) return cudaSuccess;
  auto it = g_allocs.find(uintptr_t(p));
  if (it == g_allocs.end()) return set_error(cudaErrorInvalidValue);
  munmap(it->second.base, it->second.len);
  g_used -= it->second.bytes;
  g_allocs.erase(it);
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  *total_bytes = kDeviceMemory;
  *free_bytes = kDeviceMemory - g_used;
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind, cudaStream_t s) {
  enqueue(s, [=] { std::memmove(dst, src, bytes); });
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t s) {
  enqueue(s, [=] { std::memset(p, value, bytes); });
  return cudaSuccess;
}
cudaError_t cudaLaunchHostFunc(cudaStream_t s, cudaHostFn_t fn, void* data) {
  enqueue(s, [=] { fn(data); });
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* e) {
  *e = new CUevent_st;
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t) {
  e->t = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  *ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
  return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode) {
  if (!s || s->capturing) return set_error(cudaErrorInvalidValue);
  s->capturing = true;
  s->invalidated = false;
  s->graph = new CUgraph_st;
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* graph) {
  if (!s || !s->capturing) return set_error(cudaErrorInvalidValue);
  s->capturing = false;
  *graph = s->graph;
  s->graph = nullptr;
  if (s->invalidated) {
    delete *graph;
    *graph = nullptr;
    return set_error(cudaErrorStreamCaptureInvalidated);
  }
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  *exec = new CUgraphExec_st{graph->nodes};
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t) {
  for (const auto& op : exec->nodes) op();
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || size_t(value) > shared_optin())
    return set_error(cudaErrorInvalidValue);
  g_max_dynamic_smem[func] = value;
  return cudaSuccess;
}

}  // extern "C"
