// The Mamba pieces: the causal depthwise conv1d and the selective scan, forward and backward.
//
// The state recurrence s_t = e_t s_{t-1} + b_t is affine in s, so time can be cut into pieces
// whose maps compose; the 1024px Dimba-L scan is 4096 steps over only 2304 x 16 (channel,
// state) pairs per sample, too few threads for a GPU without cutting time. Two forwards:
// - one pass (scan_warp_kernel, the default): a warp per channel scans its lanes' pieces of a
//   256-step chunk with shuffles; every exp once, every input read once (see the kernel).
// - chunked (DIMBA_CUDA_SCAN=chunked): a thread owns four consecutive states of one channel
//   (4 lanes per channel for Mamba's 16 states); time is cut into nc chunks:
//     1. local:   each chunk runs from s = 0, keeping its end state h_c and decay P_c = prod e_t
//     2. combine: per (d, n), init_0 = 0, init_{c+1} = P_c init_c + h_c (sequential over chunks)
//     3. final:   each chunk runs again from init_c and writes y
//   which gives nc times the parallelism of one sequential pass for twice the exps. Inputs are
//   staged through shared memory 32 steps at a time.
// Both keep the state in f32 (MODEL.md section 3).
// The backward (a thread per (channel, state); training only) recomputes: passes 1-2 give the
// state at every 32-step chunk start; each block then walks its channels' chunks in reverse,
// recomputing the chunk's 32 states into shared memory and running the reverse-time recurrence
// (selective_scan.cpp's maths). dB/dC sum over channels: per block in shared memory, then one
// atomicAdd per block.
// defines: conv1d_causal_depthwise_forward/backward, conv1d_causal_depthwise_silu_forward,
//          selective_scan_forward/backward, mamba_block_bf16
#include "backend/cuda/activations.h"
#include "backend/cuda/context.h"
#include "backend/cuda/ops.h"
#include "backend/cuda/ptx.h"

namespace dimba::cu {
namespace {

// ---- conv1d --------------------------------------------------------------------------------
__device__ __forceinline__ int64_t conv_src(int64_t t, int k, int K, bool reverse) {
  return reverse ? t + (K - 1) - k : t + k - (K - 1);
}

template <bool kSilu>
__global__ void conv1d_kernel(float* out, const float* inp, const float* w, const float* bias, int T, int D, int K,
                              int64_t in_stride, bool reverse) {
  const int64_t n = int64_t(T) * D;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = i / D;
    const int d = int(i % D);
    float acc = bias ? bias[d] : 0.0f;
    for (int k = 0; k < K; ++k) {
      const int64_t s = conv_src(t, k, K, reverse);
      if (s >= 0 && s < T) acc += w[int64_t(d) * K + k] * inp[s * in_stride + d];
    }
    out[i] = kSilu ? silu(acc) : acc;
  }
}

// The Mamba block's two convs with their SiLU, in bf16 from one pass over x, for B sequences of
// T rows (r = b T + t): u_f[r, d] and u_b[r, d] as conv1d_kernel<true> computes them for the
// forward taps (wf, bf) and the reversed ones (wb, bb).
__global__ void conv1d_silu_both_kernel(__nv_bfloat16* u_f, __nv_bfloat16* u_b, const __nv_bfloat16* x,
                                        const float* wf, const float* bf, const float* wb, const float* bb, int B,
                                        int T, int D, int K, int64_t in_stride) {
  const int64_t n = int64_t(B) * T * D;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / D;
    const int d = int(i % D), t = int(r % T);
    const __nv_bfloat16* xs = x + (r - t) * in_stride + d;  // column d of this sequence
    float af = bf ? bf[d] : 0.0f, ab = bb ? bb[d] : 0.0f;
    for (int k = 0; k < K; ++k) {
      const int64_t sf = conv_src(t, k, K, false), sb = conv_src(t, k, K, true);
      if (sf >= 0 && sf < T) af += wf[int64_t(d) * K + k] * to_f32(xs[sf * in_stride]);
      if (sb >= 0 && sb < T) ab += wb[int64_t(d) * K + k] * to_f32(xs[sb * in_stride]);
    }
    store(u_f + i, silu(af));
    store(u_b + i, silu(ab));
  }
}

// dinp[s, d] += sum_k w[d,k] g[t, d] over the outputs t that read s at tap k.
__global__ void conv1d_back_input_kernel(float* dinp, const float* g, const float* w, int T, int D, int K,
                                         int64_t in_stride, bool reverse) {
  const int64_t n = int64_t(T) * D;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t s = i / D;
    const int d = int(i % D);
    float acc = 0.0f;
    for (int k = 0; k < K; ++k) {
      const int64_t t = reverse ? s - (K - 1) + k : s - k + (K - 1);
      if (t >= 0 && t < T) acc += w[int64_t(d) * K + k] * g[t * D + d];
    }
    dinp[s * in_stride + d] += acc;
  }
}

// dweight[d, k] += sum_t g[t,d] x[src,d]; dbias[d] += sum_t g[t,d]: a thread per channel.
__global__ void conv1d_back_weight_kernel(float* dw, float* db, const float* g, const float* inp, int T, int D, int K,
                                          int64_t in_stride, bool reverse) {
  const int d = blockIdx.x * blockDim.x + threadIdx.x;
  if (d >= D) return;
  constexpr int kMaxK = 16;
  float acc[kMaxK] = {0};
  float sb = 0.0f;
  for (int64_t t = 0; t < T; ++t) {
    const float gv = g[t * D + d];
    sb += gv;
    for (int k = 0; k < K && k < kMaxK; ++k) {
      const int64_t s = conv_src(t, k, K, reverse);
      if (s >= 0 && s < T) acc[k] += gv * inp[s * in_stride + d];
    }
  }
  if (db) db[d] += sb;
  if (dw)
    for (int k = 0; k < K && k < kMaxK; ++k) dw[int64_t(d) * K + k] += acc[k];
}

// ---- selective scan ------------------------------------------------------------------------
constexpr int kThreads = 128, kSteps = 32;

struct ScanArgs {
  float* y;
  const float *u, *delta, *A, *Bm, *Cm, *Dskip, *z;
  int T, D, N;
  int64_t bc_stride, z_stride;
  bool reverse, accumulate;
  bool delta_softplus;  // delta is read as softplus(delta)
  int chunk;            // steps per chunk
  float* chunk_end;     // [nc, D, N] local end states (pass 1)
  float* chunk_decay;   // [nc, D, N] decay products (pass 1)
  const float* init;    // [nc, D, N] start states (pass 3; null: zeros)
};

__device__ __forceinline__ int64_t time_of(int step, int T, bool reverse) { return reverse ? T - 1 - step : step; }

// Sum over the NP lanes of a channel (NP = 16 or 32, aligned groups inside a warp).
template <int NP>
__device__ __forceinline__ float group_sum(float v) {
#pragma unroll
  for (int o = NP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// A thread owns kSPT consecutive states of one channel (NP lanes per channel, N <= NP * kSPT),
// so the per-step channel sum over the lanes is log2(NP) shuffles for kSPT states, and the
// step's B and C values are one float4 each from shared memory.
constexpr int kSPT = 4;

template <bool kFinal, int NP>
__global__ void __launch_bounds__(kThreads) scan_chunk_kernel(ScanArgs a) {
  constexpr int CPB = kThreads / NP, NS = NP * kSPT;  // channels per block, states per channel (padded)
  __shared__ float sdl[kSteps][CPB], su[kSteps][CPB], sz[kSteps][CPB], sy[kSteps][CPB];
  __shared__ __align__(16) float sB[kSteps][NS];
  __shared__ __align__(16) float sC[kSteps][NS];
  const int tid = threadIdx.x, dl = tid / NP, lane_n = tid % NP, n0 = lane_n * kSPT;
  const int d0 = blockIdx.x * CPB, d = d0 + dl, c = blockIdx.y;
  const bool dok = d < a.D;
  const int step0 = c * a.chunk, step1 = min(a.T, step0 + a.chunk);
  float Av[kSPT], s[kSPT], decay[kSPT];
#pragma unroll
  for (int k = 0; k < kSPT; ++k) {
    const int n = n0 + k;
    const bool ok = dok && n < a.N;
    Av[k] = ok ? a.A[int64_t(d) * a.N + n] : 0.0f;
    s[k] = (ok && a.init) ? a.init[(int64_t(c) * a.D + d) * a.N + n] : 0.0f;
    decay[k] = 1.0f;
  }
  for (int base = step0; base < step1; base += kSteps) {
    const int cnt = min(kSteps, step1 - base);
    __syncthreads();
    for (int idx = tid; idx < cnt * CPB; idx += kThreads) {
      const int i = idx / CPB, j = idx % CPB, dd = d0 + j;
      const int64_t t = time_of(base + i, a.T, a.reverse);
      const bool ok = dd < a.D;
      const float dv = ok ? a.delta[t * a.D + dd] : 0.0f;
      sdl[i][j] = a.delta_softplus ? softplus(dv) : dv;
      su[i][j] = ok ? a.u[t * a.D + dd] : 0.0f;
      if (kFinal) sz[i][j] = ok ? a.z[t * a.z_stride + dd] : 0.0f;
    }
    for (int idx = tid; idx < cnt * NS; idx += kThreads) {
      const int i = idx / NS, n = idx % NS;
      const int64_t t = time_of(base + i, a.T, a.reverse);
      const bool ok = n < a.N;
      sB[i][n] = ok ? a.Bm[t * a.bc_stride + n] : 0.0f;
      if (kFinal) sC[i][n] = ok ? a.Cm[t * a.bc_stride + n] : 0.0f;
    }
    __syncthreads();
    for (int i = 0; i < cnt; ++i) {
      const float dv = sdl[i][dl], du = dv * su[i][dl];
      const float4 b4 = *reinterpret_cast<const float4*>(&sB[i][n0]);
      const float bb[kSPT] = {b4.x, b4.y, b4.z, b4.w};
      float acc = 0.0f;
      if (kFinal) {
        const float4 c4 = *reinterpret_cast<const float4*>(&sC[i][n0]);
        const float cc[kSPT] = {c4.x, c4.y, c4.z, c4.w};
#pragma unroll
        for (int k = 0; k < kSPT; ++k) {
          s[k] = __expf(dv * Av[k]) * s[k] + du * bb[k];
          acc += s[k] * cc[k];
        }
        acc = group_sum<NP>(acc);
        if (lane_n == 0) sy[i][dl] = acc;
      } else {
#pragma unroll
        for (int k = 0; k < kSPT; ++k) {
          const float e = __expf(dv * Av[k]);
          s[k] = e * s[k] + du * bb[k];
          decay[k] *= e;
        }
      }
    }
    if (kFinal) {
      __syncthreads();
      for (int idx = tid; idx < cnt * CPB; idx += kThreads) {
        const int i = idx / CPB, j = idx % CPB, dd = d0 + j;
        if (dd >= a.D) continue;
        const int64_t t = time_of(base + i, a.T, a.reverse);
        const float zv = sz[i][j];
        const float v = (sy[i][j] + a.Dskip[dd] * su[i][j]) * silu(zv);
        float* yp = a.y + t * a.D + dd;
        *yp = a.accumulate ? *yp + v : v;
      }
    }
  }
  if (!kFinal && dok) {
#pragma unroll
    for (int k = 0; k < kSPT; ++k) {
      const int n = n0 + k;
      if (n < a.N) {
        const int64_t o = (int64_t(c) * a.D + d) * a.N + n;
        a.chunk_end[o] = s[k];
        a.chunk_decay[o] = decay[k];
      }
    }
  }
}

// Lanes per channel for N states (kSPT each): 4 for Mamba's 16.
inline int lanes_for(int N) { return N <= 16 ? 4 : N <= 32 ? 8 : 16; }

template <bool kFinal>
void launch_chunks(const ScanArgs& a, int nc) {
  const int np = lanes_for(a.N), cpb = kThreads / np;
  dim3 grid((a.D + cpb - 1) / cpb, nc);
  if (np == 4)
    scan_chunk_kernel<kFinal, 4><<<grid, kThreads, 0, stream()>>>(a);
  else if (np == 8)
    scan_chunk_kernel<kFinal, 8><<<grid, kThreads, 0, stream()>>>(a);
  else
    scan_chunk_kernel<kFinal, 16><<<grid, kThreads, 0, stream()>>>(a);
  check_launch(kFinal ? "scan_chunk_kernel<final>" : "scan_chunk_kernel<local>");
}

// ---- selective scan forward, one pass --------------------------------------------------------
// A warp per channel; its 32 lanes split each chunk of kWarpChunk steps (lane l takes steps
// l kItems .. l kItems + kItems - 1, in scan order); a block holds kWarpsPB channels and walks
// the chunks in order. Per state n, each lane composes its steps' affine maps s -> e s + b
// (e = exp(delta A), b = delta u B), the warp scans the compositions across lanes
// (Hillis-Steele), which gives each lane the state before its first step from the chunk's start
// state, and the lane runs its steps from the e and b it kept, adding C s to each step's y. So
// every exp is taken once and every input read once (the chunked kernel takes each twice).
// Inputs are staged per chunk in shared memory, step k of a chunk at column (k % kItems) 32 +
// k / kItems of its row, so that a warp's 32 lanes read consecutive words; rows are padded by
// one word so that the staging writes of 8 channels (or states) land in distinct banks.
constexpr int kWarpsPB = 8, kItems = 8, kWarpChunk = 32 * kItems, kRow = kWarpChunk + 1;

__device__ __forceinline__ int warp_col(int k) { return (k % kItems) * 32 + k / kItems; }

size_t warp_scan_smem(int N) {  // u, delta, z rows per channel, B and C rows per state, carries
  return (size_t(3 * kWarpsPB + 2 * N) * kRow + size_t(kWarpsPB) * N) * 4;
}

// Its arguments: as ScanArgs, with u, delta and z stored as In and y as Out (f32 both for
// selective_scan_forward; bf16 in the Mamba block's bf16 path), y = y_add + the scan's output
// where y_add is set (stored as Out too; accumulate: y_add = y; the block's backward direction:
// the forward direction's y, in place), and delta_bias [D] (where set) added to delta in f32
// before its softplus, as Mamba's kernel adds dt_proj's bias: a bf16 delta then carries the
// rounding of the product alone, not of the sum with a bias of magnitude ~5 (whose ulp in bf16
// would be ~1.5% of softplus's value).
template <class In, class Out>
struct WarpScanArgs {
  Out* y;
  const Out* y_add;
  const In *u, *delta, *z;
  const float* delta_bias;
  const float *A, *Bm, *Cm, *Dskip;
  int T, D, N;
  int64_t bc_stride, z_stride;
  bool reverse, delta_softplus;
};

template <class In, class Out>
__global__ void __launch_bounds__(kWarpsPB * 32) scan_warp_kernel(WarpScanArgs<In, Out> a) {
  extern __shared__ float scan_smem[];
  float* su = scan_smem;              // [kWarpsPB][kRow], reused for y once the chunk's steps are done
  float* sdl = su + kWarpsPB * kRow;  // [kWarpsPB][kRow]
  float* sz = sdl + kWarpsPB * kRow;  // [kWarpsPB][kRow]
  float* sB = sz + kWarpsPB * kRow;   // [N][kRow]
  float* sC = sB + a.N * kRow;        // [N][kRow]
  float* carry = sC + a.N * kRow;     // [kWarpsPB][N]: the state at the chunk's start
  const int tid = threadIdx.x, w = tid >> 5, lane = tid & 31;
  const int d0 = blockIdx.x * kWarpsPB, d = d0 + w;
  const bool dok = d < a.D;
  const int64_t row0 = int64_t(blockIdx.y) * a.T;  // sequence blockIdx.y's first row (rows of B T)
  for (int i = tid; i < kWarpsPB * a.N; i += blockDim.x) carry[i] = 0.0f;
  for (int base = 0; base < a.T; base += kWarpChunk) {
    const int cnt = min(kWarpChunk, a.T - base);
    // The last chunk's y has been stored from su. (Each thread stages exactly the entries it
    // stored, so only a change of either mapping needs this barrier; it costs one per chunk.)
    __syncthreads();
    for (int idx = tid; idx < cnt * kWarpsPB; idx += blockDim.x) {
      const int k = idx / kWarpsPB, c = idx % kWarpsPB, dd = d0 + c;
      const int64_t t = row0 + time_of(base + k, a.T, a.reverse);
      const bool ok = dd < a.D;
      const int p = c * kRow + warp_col(k);
      const float dv = ok ? to_f32(a.delta[t * a.D + dd]) + (a.delta_bias ? a.delta_bias[dd] : 0.0f) : 0.0f;
      sdl[p] = a.delta_softplus ? softplus(dv) : dv;
      su[p] = ok ? to_f32(a.u[t * a.D + dd]) : 0.0f;
      sz[p] = ok ? to_f32(a.z[t * a.z_stride + dd]) : 0.0f;
    }
    for (int idx = tid; idx < cnt * a.N; idx += blockDim.x) {
      const int k = idx / a.N, n = idx % a.N;
      const int64_t t = row0 + time_of(base + k, a.T, a.reverse);
      sB[n * kRow + warp_col(k)] = a.Bm[t * a.bc_stride + n];
      sC[n * kRow + warp_col(k)] = a.Cm[t * a.bc_stride + n];
    }
    __syncthreads();
    // This lane's steps: k = lane kItems + i, at column i 32 + lane. Steps past the chunk's end
    // are the identity map (e = 1, b = 0) and write nothing.
    float dv[kItems], du[kItems], y[kItems];
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const bool ok = lane * kItems + i < cnt;
      const int p = w * kRow + i * 32 + lane;
      dv[i] = ok ? sdl[p] : 0.0f;
      du[i] = ok ? dv[i] * su[p] : 0.0f;
      y[i] = 0.0f;
    }
    for (int n = 0; n < a.N; ++n) {
      const float A2 = dok ? a.A[int64_t(d) * a.N + n] * 1.44269504088896341f : 0.0f;  // A log2(e)
      float e[kItems], b[kItems], P = 1.0f, S = 0.0f;  // this lane's map: s -> P s + S
#pragma unroll
      for (int i = 0; i < kItems; ++i) {
        const bool ok = lane * kItems + i < cnt;
        e[i] = ex2_approx(dv[i] * A2);
        b[i] = ok ? du[i] * sB[n * kRow + i * 32 + lane] : 0.0f;
        P *= e[i];
        S = e[i] * S + b[i];
      }
      // Inclusive scan: lane l's map becomes that of lanes 0..l (the earlier map applied first).
#pragma unroll
      for (int off = 1; off < 32; off <<= 1) {
        const float Pp = __shfl_sync(0xffffffffu, P, lane - off), Sp = __shfl_sync(0xffffffffu, S, lane - off);
        if (lane >= off) {
          S = P * Sp + S;
          P = Pp * P;
        }
      }
      const float Pe = __shfl_sync(0xffffffffu, P, lane - 1), Se = __shfl_sync(0xffffffffu, S, lane - 1);
      const float h = carry[w * a.N + n];
      float s = lane == 0 ? h : Pe * h + Se;  // the state before this lane's first step
#pragma unroll
      for (int i = 0; i < kItems; ++i) {
        s = e[i] * s + b[i];
        if (lane * kItems + i < cnt) y[i] += sC[n * kRow + i * 32 + lane] * s;
      }
      const float Pl = __shfl_sync(0xffffffffu, P, 31), Sl = __shfl_sync(0xffffffffu, S, 31);
      if (lane == 0) carry[w * a.N + n] = Pl * h + Sl;  // every lane has read h (the shuffles follow)
    }
    const float Dk = dok ? a.Dskip[d] : 0.0f;
#pragma unroll
    for (int i = 0; i < kItems; ++i) {
      const int p = w * kRow + i * 32 + lane;
      if (lane * kItems + i < cnt) su[p] = (y[i] + Dk * su[p]) * silu(sz[p]);
    }
    __syncthreads();
    for (int idx = tid; idx < cnt * kWarpsPB; idx += blockDim.x) {
      const int k = idx / kWarpsPB, c = idx % kWarpsPB, dd = d0 + c;
      if (dd >= a.D) continue;
      const int64_t i = (row0 + time_of(base + k, a.T, a.reverse)) * a.D + dd;
      const float v = su[c * kRow + warp_col(k)];
      store(a.y + i, a.y_add ? to_f32(a.y_add[i]) + v : v);
    }
  }
}

// init[0] = 0, init[c+1] = decay[c] * init[c] + end[c], per (d, n).
__global__ void scan_combine_kernel(float* init, const float* end, const float* decay, int nc, int64_t DN) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= DN) return;
  float carry = 0.0f;
  for (int c = 0; c < nc; ++c) {
    init[c * DN + i] = carry;
    carry = decay[c * DN + i] * carry + end[c * DN + i];
  }
}

struct ScanBackArgs {
  float *du, *ddelta, *dA, *dBm, *dCm, *dDskip, *dz;
  const float *dy, *u, *delta, *A, *Bm, *Cm, *Dskip, *z;
  int T, D, N;
  int64_t bc_stride, z_stride, dbc_stride, dz_stride;
  bool reverse;
  int nc;              // chunks of KS steps (scan_back_kernel)
  const float* init;   // [nc, D, N] the state before each chunk
};

// KS steps per chunk (32; 16 when SPT = 2, to stay inside 48 KB of static shared memory).
template <int NP, int SPT, int KS>
__global__ void __launch_bounds__(kThreads) scan_back_kernel(ScanBackArgs a) {
  constexpr int CPB = kThreads / NP;
  __shared__ float sdl[KS][CPB], su[KS][CPB], sz[KS][CPB], sdy[KS][CPB];
  __shared__ float sB[KS][NP * SPT], sC[KS][NP * SPT], sdB[KS][NP * SPT], sdC[KS][NP * SPT];
  __shared__ float S[KS][SPT][kThreads];
  const int tid = threadIdx.x, dl = tid / NP, lane_n = tid % NP;
  const int d0 = blockIdx.x * CPB, d = d0 + dl;
  const bool dok = d < a.D;
  float Av[SPT], ds[SPT], dAacc[SPT];
  bool nok[SPT];
#pragma unroll
  for (int k = 0; k < SPT; ++k) {
    const int n = lane_n + k * NP;
    nok[k] = dok && n < a.N;
    Av[k] = nok[k] ? a.A[int64_t(d) * a.N + n] : 0.0f;
    ds[k] = 0.0f;
    dAacc[k] = 0.0f;
  }
  const float dsk = dok ? a.Dskip[d] : 0.0f;
  float dDacc = 0.0f;
  for (int c = a.nc - 1; c >= 0; --c) {
    const int base = c * KS, cnt = min(KS, a.T - base);
    __syncthreads();
    for (int idx = tid; idx < cnt * CPB; idx += kThreads) {
      const int i = idx / CPB, j = idx % CPB, dd = d0 + j;
      const int64_t t = time_of(base + i, a.T, a.reverse);
      const bool ok = dd < a.D;
      sdl[i][j] = ok ? a.delta[t * a.D + dd] : 0.0f;
      su[i][j] = ok ? a.u[t * a.D + dd] : 0.0f;
      sz[i][j] = ok ? a.z[t * a.z_stride + dd] : 0.0f;
      sdy[i][j] = ok ? a.dy[t * a.D + dd] : 0.0f;
    }
    for (int idx = tid; idx < KS * NP * SPT; idx += kThreads) {
      const int i = idx / (NP * SPT), n = idx % (NP * SPT);
      const bool ok = i < cnt && n < a.N;
      const int64_t t = ok ? time_of(base + i, a.T, a.reverse) : 0;
      sB[i][n] = ok ? a.Bm[t * a.bc_stride + n] : 0.0f;
      sC[i][n] = ok ? a.Cm[t * a.bc_stride + n] : 0.0f;
      sdB[i][n] = 0.0f;
      sdC[i][n] = 0.0f;
    }
    __syncthreads();
    // The chunk's states, from the state before it.
    float s0[SPT];
#pragma unroll
    for (int k = 0; k < SPT; ++k) {
      const int n = lane_n + k * NP;
      s0[k] = nok[k] ? a.init[(int64_t(c) * a.D + d) * a.N + n] : 0.0f;
    }
    {
      float s[SPT];
#pragma unroll
      for (int k = 0; k < SPT; ++k) s[k] = s0[k];
      for (int i = 0; i < cnt; ++i) {
        const float dv = sdl[i][dl], du = dv * su[i][dl];
#pragma unroll
        for (int k = 0; k < SPT; ++k) {
          s[k] = expf(dv * Av[k]) * s[k] + du * sB[i][lane_n + k * NP];
          S[i][k][tid] = s[k];
        }
      }
    }
    for (int i = cnt - 1; i >= 0; --i) {
      const float dv = sdl[i][dl], uv = su[i][dl], zv = sz[i][dl], dyv = sdy[i][dl];
      float q = 0.0f;
#pragma unroll
      for (int k = 0; k < SPT; ++k) q += S[i][k][tid] * sC[i][lane_n + k * NP];
      q = group_sum<NP>(q) + dsk * uv;
      const float sg = sigmoid(zv);
      const float dq = dyv * zv * sg;
      float ddl = 0.0f, dut = 0.0f;
#pragma unroll
      for (int k = 0; k < SPT; ++k) {
        const int n = lane_n + k * NP;
        const float bn = sB[i][n], cn = sC[i][n];
        const float st = S[i][k][tid];
        const float prev = i > 0 ? S[i - 1][k][tid] : s0[k];
        const float e = expf(dv * Av[k]);
        const float g = ds[k] + dq * cn;
        ddl += g * (prev * e * Av[k] + bn * uv);
        dAacc[k] += g * prev * e * dv;
        dut += g * dv * bn;
        ds[k] = g * e;
        if (nok[k]) {
          atomicAdd(&sdB[i][n], g * dv * uv);
          atomicAdd(&sdC[i][n], dq * st);
        }
      }
      ddl = group_sum<NP>(ddl);
      dut = group_sum<NP>(dut);
      if (lane_n == 0 && dok) {
        const int64_t t = time_of(base + i, a.T, a.reverse);
        if (a.dz) a.dz[t * a.dz_stride + d] += dyv * q * sg * (1.0f + zv * (1.0f - sg));
        if (a.du) a.du[t * a.D + d] += dq * dsk + dut;
        if (a.ddelta) a.ddelta[t * a.D + d] += ddl;
        dDacc += dq * uv;
      }
    }
    __syncthreads();
    for (int idx = tid; idx < cnt * a.N; idx += kThreads) {
      const int i = idx / a.N, n = idx % a.N;
      const int64_t t = time_of(base + i, a.T, a.reverse);
      if (a.dBm) atomicAdd(&a.dBm[t * a.dbc_stride + n], sdB[i][n]);
      if (a.dCm) atomicAdd(&a.dCm[t * a.dbc_stride + n], sdC[i][n]);
    }
  }
  if (lane_n == 0 && dok && a.dDskip) a.dDskip[d] += dDacc;
  if (a.dA)
#pragma unroll
    for (int k = 0; k < SPT; ++k)
      if (nok[k]) a.dA[int64_t(d) * a.N + lane_n + k * NP] += dAacc[k];
}

int sm_count() {
  static int n = [] {
    int dev = 0, v = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev);
    return v > 0 ? v : 1;
  }();
  return n;
}

// Runs passes 1-2 for nc chunks of a.chunk steps; returns the [nc, D, N] start states.
const float* chunk_starts(ScanArgs a, int nc, ScratchSlot slot) {
  const int64_t DN = int64_t(a.D) * a.N;
  float* buf = static_cast<float*>(scratch(slot, size_t(3) * nc * DN * 4));
  a.chunk_end = buf;
  a.chunk_decay = buf + nc * DN;
  float* init = buf + 2 * nc * DN;
  launch_chunks<false>(a, nc);
  scan_combine_kernel<<<unsigned((DN + 255) / 256), 256, 0, stream()>>>(init, a.chunk_end, a.chunk_decay, nc, DN);
  check_launch("scan_combine_kernel");
  return init;
}

// `sequences` scans of a.T steps each, sequence b's rows following sequence b - 1's.
template <class In, class Out>
void launch_warp_scan(const WarpScanArgs<In, Out>& a, int sequences = 1) {
  const size_t sm = warp_scan_smem(a.N);
  allow_smem(scan_warp_kernel<In, Out>, sm, "scan_warp_kernel");
  const dim3 grid((a.D + kWarpsPB - 1) / kWarpsPB, sequences);
  scan_warp_kernel<In, Out><<<grid, kWarpsPB * 32, sm, stream()>>>(a);
  check_launch("scan_warp_kernel");
}

void scan_forward(ScanArgs a) {
  if (scan_kernel() == ScanKernel::Warp) {
    launch_warp_scan(WarpScanArgs<float, float>{a.y, a.accumulate ? a.y : nullptr, a.u, a.delta, a.z, nullptr, a.A,
                                                a.Bm, a.Cm, a.Dskip, a.T, a.D, a.N, a.bc_stride, a.z_stride,
                                                a.reverse, a.delta_softplus});
    return;
  }
  const int cpb = kThreads / lanes_for(a.N), gx = (a.D + cpb - 1) / cpb;
  // Enough chunks for about 8 resident blocks per SM, none shorter than 64 steps.
  int nc = (8 * sm_count() + gx - 1) / gx;
  nc = max(1, min(nc, a.T / 64));
  a.chunk = ((a.T + nc - 1) / nc + kSteps - 1) / kSteps * kSteps;
  nc = (a.T + a.chunk - 1) / a.chunk;
  a.init = nc > 1 ? chunk_starts(a, nc, kScratchD) : nullptr;
  launch_chunks<true>(a, nc);
}

template <int NP, int SPT>
void scan_backward(const ScanBackArgs& b) {
  constexpr int CPB = kThreads / NP, KS = SPT == 2 ? 16 : 32;
  ScanArgs a{nullptr, b.u, b.delta, b.A, b.Bm, b.Cm, b.Dskip, b.z, b.T, b.D, b.N, b.bc_stride, b.z_stride, b.reverse,
             false, false, KS, nullptr, nullptr, nullptr};
  const int nc = (b.T + KS - 1) / KS;
  ScanBackArgs bb = b;
  bb.nc = nc;
  bb.init = chunk_starts(a, nc, kScratchD);
  scan_back_kernel<NP, SPT, KS><<<(b.D + CPB - 1) / CPB, kThreads, 0, stream()>>>(bb);
  check_launch("scan_back_kernel");
}

void check_scan(const char* op, int T, int D, int N) {
  if (T < 0 || D < 0 || N < 1 || N > 64)
    throw_invalid(std::string(op) + ": T=" + std::to_string(T) + " D=" + std::to_string(D) + " N=" +
                  std::to_string(N) + " (state size 1..64)");
}

// The conv kernels' bound on taps (conv1d_back_weight_kernel keeps K sums in registers).
void check_conv(const char* op, int K) {
  if (K < 1 || K > 16) throw_invalid(std::string(op) + ": kernel size " + std::to_string(K) + " outside 1..16");
}

template <bool kSilu>
void conv1d(float* out, const float* inp, const float* weight, const float* bias, int T, int D, int K,
            int64_t in_stride, bool reverse) {
  check_conv("conv1d", K);
  const int64_t n = int64_t(T) * D;
  if (n <= 0) return;
  conv1d_kernel<kSilu><<<blocks_for(n, 256), 256, 0, stream()>>>(out, inp, weight, bias, T, D, K, in_stride, reverse);
  check_launch("conv1d_kernel");
}

}  // namespace

void conv1d_causal_depthwise_forward(float* out, const float* inp, const float* weight, const float* bias, int T,
                                     int D, int K, int64_t in_stride, bool reverse) {
  conv1d<false>(out, inp, weight, bias, T, D, K, in_stride, reverse);
}

// The SiLU applied as each output is written: one pass over [T, D] instead of two.
void conv1d_causal_depthwise_silu_forward(float* out, const float* inp, const float* weight, const float* bias,
                                          int T, int D, int K, int64_t in_stride, bool reverse) {
  conv1d<true>(out, inp, weight, bias, T, D, K, in_stride, reverse);
}

void conv1d_causal_depthwise_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                                      const float* weight, int T, int D, int K, int64_t in_stride, bool reverse) {
  check_conv("conv1d", K);
  const int64_t n = int64_t(T) * D;
  if (n <= 0) return;
  if (dinp) {
    conv1d_back_input_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(dinp, dout, weight, T, D, K, in_stride,
                                                                        reverse);
    check_launch("conv1d_back_input_kernel");
  }
  if (dweight || dbias) {
    conv1d_back_weight_kernel<<<(D + 127) / 128, 128, 0, stream()>>>(dweight, dbias, dout, inp, T, D, K, in_stride,
                                                                      reverse);
    check_launch("conv1d_back_weight_kernel");
  }
}

void selective_scan_forward(float* y, const float* u, const float* delta, const float* A, const float* Bm,
                            const float* Cm, const float* Dskip, const float* z, int T, int D, int N,
                            int64_t bc_stride, int64_t z_stride, bool reverse, bool accumulate, bool delta_softplus) {
  check_scan("selective_scan_forward", T, D, N);
  if (T == 0 || D == 0) return;
  ScanArgs a{y, u, delta, A, Bm, Cm, Dskip, z, T, D, N, bc_stride, z_stride, reverse, accumulate, delta_softplus, T,
             nullptr, nullptr, nullptr};
  scan_forward(a);
}

void selective_scan_backward(float* du, float* ddelta, float* dA, float* dBm, float* dCm, float* dDskip, float* dz,
                             const float* dy, const float* u, const float* delta, const float* A, const float* Bm,
                             const float* Cm, const float* Dskip, const float* z, int T, int D, int N,
                             int64_t bc_stride, int64_t z_stride, int64_t dbc_stride, int64_t dz_stride,
                             bool reverse) {
  check_scan("selective_scan_backward", T, D, N);
  if (T == 0 || D == 0) return;
  ScanBackArgs b{du, ddelta, dA, dBm, dCm, dDskip, dz, dy, u, delta, A, Bm, Cm, Dskip, z, T, D, N,
                 bc_stride, z_stride, dbc_stride, dz_stride, reverse, 0, nullptr};
  if (N <= 16)
    scan_backward<16, 1>(b);
  else if (N <= 32)
    scan_backward<32, 1>(b);
  else
    scan_backward<32, 2>(b);
}

// The block's steps (backend/composed.cpp) handing each other bf16 where the next step is a
// tensor-core GEMM or the scan: the normed input, xz, u, delta and y in bf16 (each half the
// traffic of f32, and no conversion pass before the Linears); the scan's state and x_dbl (B, C
// and dt_raw) stay f32. Both directions' u come from one pass over x, into the two halves of
// u's f32 buffer; y's bf16 values live in the first half of its f32 buffer (the backward
// direction adds onto the forward's y in place); the others in op scratch.
bool mamba_block_bf16(float* out, const MambaBlockScratch& s, const float* residual, const MambaBlock& m,
                      int B, int N) {
  // The chunked scan reads f32 only: DIMBA_CUDA_SCAN=chunked runs the block as separate ops.
  if (!fused_blocks() || !reduced_precision() || m.wdtype != DType::BF16 || scan_kernel() != ScanKernel::Warp ||
      B <= 0 || N <= 0)
    return false;
  const int C = m.C, Di = m.Di, Ns = m.Ns, R = m.R, xs = R + 2 * Ns;
  check_scan("mamba_block_forward", N, Di, Ns);
  const int M = B * N;
  using bf16 = __nv_bfloat16;
  auto* h16 = static_cast<bf16*>(scratch(kScratchA, size_t(M) * C * 2));
  rmsnorm_to_bf16(h16, residual, m.norm_w, M, C, m.norm_eps);
  auto* xz16 = static_cast<const bf16*>(linear_into_16(kScratchE, s.xz, h16, m.in_proj_w, m.wdtype, nullptr, M, C,
                                                        2 * Di));
  bf16* const u_dir[2] = {reinterpret_cast<bf16*>(s.u), reinterpret_cast<bf16*>(s.u) + int64_t(M) * Di};
  auto* y16 = reinterpret_cast<bf16*>(s.y);
  check_conv("mamba_block_forward", m.K);
  conv1d_silu_both_kernel<<<blocks_for(int64_t(M) * Di, 256), 256, 0, stream()>>>(
      u_dir[0], u_dir[1], xz16, m.dir[0].conv_w, m.dir[0].conv_b, m.dir[1].conv_w, m.dir[1].conv_b, B, N, Di, m.K,
      2 * Di);
  check_launch("conv1d_silu_both_kernel");
  for (int dir = 0; dir < 2; ++dir) {
    const MambaDirection& d = m.dir[dir];
    const bool reverse = dir == 1;
    const bf16* u16 = u_dir[dir];
    linear_from_16(s.xdbl, u16, d.x_proj_w, m.wdtype, nullptr, M, Di, xs);
    copy_rows_forward(s.dt, s.xdbl, M, R, R, xs);
    const void* dt16 = to_16(kScratchC, DType::BF16, s.dt, int64_t(M) * R);
    auto* delta16 = static_cast<const bf16*>(linear_into_16(kScratchF, s.delta, dt16, d.dt_proj_w, m.wdtype,
                                                            nullptr, M, R, Di));  // the scan adds the bias
    // All B samples in one launch (twice the blocks of one, for latency hiding).
    const float* Bm = s.xdbl + R;
    const bf16* z = xz16 + Di;
    // The backward direction adds onto the forward's y in place, rounding the sum for out_proj.
    launch_warp_scan(WarpScanArgs<bf16, bf16>{y16, reverse ? y16 : nullptr, u16, delta16, z, d.dt_proj_b, d.A, Bm,
                                              Bm + Ns, d.D, N, Di, Ns, xs, 2 * Di, reverse, true},
                     B);
  }
  linear_from_16(out, y16, m.out_proj_w, m.wdtype, nullptr, M, Di, C);
  return true;
}

}  // namespace dimba::cu
