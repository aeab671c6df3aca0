// Attention, flash style: no [Tq, Tk] score matrix is stored; keys stream through shared
// memory in tiles with an online softmax (running max m and sum l per query row, the output
// rescaled by exp(m_old - m_new) as the max grows).
// - attn_tc_kernel (reduced precision, hd <= 128, Dimba's 72 included): tensor cores through
//   WMMA bf16 16x16x16 fragments, f32 accumulation. 64 queries per block (4 warps x 16 rows),
//   64-key tiles; the head dimension is zero-padded to a multiple of 16 (72 -> 80). Scores
//   and the output tile live in shared memory in f32, so the softmax and the rescale are
//   plain per-row code (2 lanes per row) instead of fragment-layout tricks.
// - attn_simt_kernel (exact f32, any hd up to 512, and T5's attention_bias): a warp per query
//   row, 32-key tiles; lane j scores key j, then every lane updates its hd/32 output dims.
// - attention_backward: recompute (flash-attention 2 style): the forward's per-row logsumexp,
//   D = rowsum(dO * O), then dQ (a warp per query row) and dK/dV (a warp per key row).
// k_lens: sample b sees its first k_lens[b] keys; none -> zero output (and no gradient).
// defines: attention_forward, attention_bias_forward, attention_backward
#include <mma.h>

#include "backend/cuda/context.h"
#include "backend/cuda/ops.h"

namespace dimba::cu {
namespace {

constexpr int kMaxHd = 512;
constexpr int kMaxPerLane = kMaxHd / 32;  // output dims per lane in the SIMT kernels

struct AttnArgs {
  float* out;
  const float *q, *k, *v;
  const int* k_lens;        // attention_forward
  const float* bias;        // attention_bias_forward: [H, Tq, Tk] or null
  const int32_t* key_mask;  // attention_bias_forward: [B, Tk] or null
  float* lse;               // optional [B, H, Tq] logsumexp of the scaled scores (backward)
  int B, Tq, Tk, H, hd;
  int64_t q_stride, kv_stride, out_stride;
  float scale;
};

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ int keys_of(const int* k_lens, int b, int Tk) {
  return k_lens ? min(max(k_lens[b], 0), Tk) : Tk;
}

// ---- exact f32 SIMT kernel ------------------------------------------------------------
// grid (ceil(Tq/8), H, B), block (32, 8); dynamic smem: q rows [8][hd], K [32][hd+1], V [32][hd].
template <bool kBias>
__global__ void __launch_bounds__(256) attn_simt_kernel(AttnArgs a) {
  extern __shared__ float smem[];
  const int hd = a.hd, lane = threadIdx.x, wq = threadIdx.y, tid = wq * 32 + lane;
  const int b = blockIdx.z, h = blockIdx.y, t = blockIdx.x * 8 + wq;
  float* qs = smem + wq * hd;
  float* Ks = smem + 8 * hd;
  float* Vs = Ks + 32 * (hd + 1);
  int n = a.Tk;
  bool uniform = false;  // T5: every key masked -> uniform weights over all Tk keys
  if (kBias) {
    int kept = 0;
    if (a.key_mask)
      for (int j = tid; j < a.Tk; j += 256) kept |= a.key_mask[int64_t(b) * a.Tk + j] != 0;
    uniform = a.key_mask && !__syncthreads_or(kept);
  } else {
    n = keys_of(a.k_lens, b, a.Tk);
  }
  const bool row_ok = t < a.Tq;
  float* orow = a.out + (int64_t(b) * a.Tq + t) * a.out_stride + int64_t(h) * hd;
  if (n == 0) {
    if (row_ok)
      for (int d = lane; d < hd; d += 32) orow[d] = 0.0f;
    return;
  }
  const float* qrow = a.q + (int64_t(b) * a.Tq + (row_ok ? t : 0)) * a.q_stride + int64_t(h) * hd;
  for (int d = lane; d < hd; d += 32) qs[d] = row_ok ? qrow[d] : 0.0f;
  float o[kMaxPerLane];
#pragma unroll
  for (int i = 0; i < kMaxPerLane; ++i) o[i] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  for (int j0 = 0; j0 < n; j0 += 32) {
    __syncthreads();
    for (int idx = tid; idx < 32 * hd; idx += 256) {
      const int jj = idx / hd, d = idx % hd, key = j0 + jj;
      const int64_t off = (int64_t(b) * a.Tk + key) * a.kv_stride + int64_t(h) * hd + d;
      Ks[jj * (hd + 1) + d] = key < n ? a.k[off] : 0.0f;
      Vs[jj * hd + d] = key < n ? a.v[off] : 0.0f;
    }
    __syncthreads();
    const int key = j0 + lane;
    float s = -INFINITY;
    if (key < n) {
      if (kBias && uniform) {
        s = 0.0f;
      } else {
        float acc = 0.0f;
        const float* kr = Ks + lane * (hd + 1);
        for (int d = 0; d < hd; ++d) acc += qs[d] * kr[d];
        s = acc * a.scale;
        if (kBias) {
          if (a.bias && row_ok) s += a.bias[(int64_t(h) * a.Tq + t) * a.Tk + key];
          if (a.key_mask && a.key_mask[int64_t(b) * a.Tk + key] == 0) s = -INFINITY;
        }
      }
    }
    const float m_new = fmaxf(m, warp_max(s));
    if (m_new == -INFINITY) continue;  // every key so far masked: nothing to add yet
    const float corr = expf(m - m_new);  // m = -inf (first tile): 0
    const float p = s == -INFINITY ? 0.0f : expf(s - m_new);
    l = l * corr + warp_sum(p);
    m = m_new;
#pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i) o[i] *= corr;
    const int valid = min(32, n - j0);
    for (int jj = 0; jj < valid; ++jj) {
      const float pj = __shfl_sync(0xffffffffu, p, jj);
      const float* vr = Vs + jj * hd;
#pragma unroll
      for (int i = 0; i < kMaxPerLane; ++i) {
        const int d = lane + 32 * i;
        if (d < hd) o[i] += pj * vr[d];
      }
    }
  }
  if (!row_ok) return;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
  for (int i = 0; i < kMaxPerLane; ++i) {
    const int d = lane + 32 * i;
    if (d < hd) orow[d] = o[i] * inv;
  }
  if (a.lse && lane == 0) a.lse[(int64_t(b) * a.H + h) * a.Tq + t] = m + logf(l);
}

// ---- tensor-core kernel ---------------------------------------------------------------
constexpr int kBQ = 64, kBK = 64, kWarps = 4;

template <int HDP>
constexpr size_t tc_smem_bytes() {
  return size_t(kBQ) * HDP * 2 + size_t(kBK) * HDP * 2 * 2 + size_t(kWarps) * 16 * kBK * 4 + size_t(kWarps) * 16 * kBK * 2 +
         size_t(kWarps) * 16 * HDP * 4;
}

template <int HDP>
__global__ void __launch_bounds__(128) attn_tc_kernel(AttnArgs a) {
  using namespace nvcuda;
  extern __shared__ __align__(128) unsigned char tc_smem[];
  __nv_bfloat16* Qs = reinterpret_cast<__nv_bfloat16*>(tc_smem);
  __nv_bfloat16* Ks = Qs + kBQ * HDP;
  __nv_bfloat16* Vs = Ks + kBK * HDP;
  float* Ss = reinterpret_cast<float*>(Vs + kBK * HDP);
  __nv_bfloat16* Ps = reinterpret_cast<__nv_bfloat16*>(Ss + kWarps * 16 * kBK);
  float* Os = reinterpret_cast<float*>(Ps + kWarps * 16 * kBK);
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * kBQ, hd = a.hd;
  const int n = keys_of(a.k_lens, b, a.Tk);
  float* Sw = Ss + warp * 16 * kBK;
  __nv_bfloat16* Pw = Ps + warp * 16 * kBK;
  float* Ow = Os + warp * 16 * HDP;
  const int r = lane >> 1, half = lane & 1;  // this lane's row in the warp's 16, and its half
  const int t = q0 + warp * 16 + r;
  float* orow = a.out + (int64_t(b) * a.Tq + t) * a.out_stride + int64_t(h) * hd;
  if (n == 0) {
    if (t < a.Tq)
      for (int d = half; d < hd; d += 2) orow[d] = 0.0f;
    return;
  }
  for (int idx = tid; idx < kBQ * HDP; idx += 128) {
    const int rr = idx / HDP, d = idx % HDP, tt = q0 + rr;
    const float val = (tt < a.Tq && d < hd) ? a.q[(int64_t(b) * a.Tq + tt) * a.q_stride + int64_t(h) * hd + d] : 0.0f;
    Qs[idx] = __float2bfloat16_rn(val);
  }
  for (int idx = lane; idx < 16 * HDP; idx += 32) Ow[idx] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  for (int j0 = 0; j0 < n; j0 += kBK) {
    __syncthreads();  // Q written (first tile) / the previous K, V no longer read
    for (int idx = tid; idx < kBK * HDP; idx += 128) {
      const int jj = idx / HDP, d = idx % HDP, key = j0 + jj;
      float kv = 0.0f, vv = 0.0f;
      if (key < n && d < hd) {
        const int64_t off = (int64_t(b) * a.Tk + key) * a.kv_stride + int64_t(h) * hd + d;
        kv = a.k[off];
        vv = a.v[off];
      }
      Ks[idx] = __float2bfloat16_rn(kv);
      Vs[idx] = __float2bfloat16_rn(vv);
    }
    __syncthreads();
    // S (16 x 64) = Q_w (16 x HDP) K^T
#pragma unroll
    for (int cb = 0; cb < kBK / 16; ++cb) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.0f);
#pragma unroll
      for (int kk = 0; kk < HDP / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> fb;
        wmma::load_matrix_sync(fa, Qs + warp * 16 * HDP + kk * 16, HDP);
        wmma::load_matrix_sync(fb, Ks + cb * 16 * HDP + kk * 16, HDP);
        wmma::mma_sync(acc, fa, fb, acc);
      }
      wmma::store_matrix_sync(Sw + cb * 16, acc, kBK, wmma::mem_row_major);
    }
    __syncwarp();
    // Online softmax on row r, columns [32*half, 32*half + 32).
    const float* srow = Sw + r * kBK;
    float mt = -INFINITY;
    for (int c = 32 * half; c < 32 * half + 32; ++c)
      if (j0 + c < n) mt = fmaxf(mt, srow[c] * a.scale);
    mt = fmaxf(mt, __shfl_xor_sync(0xffffffffu, mt, 1));
    const float m_new = fmaxf(m, mt);  // finite: key j0 < n is in this tile
    const float corr = expf(m - m_new);
    float ls = 0.0f;
    for (int c = 32 * half; c < 32 * half + 32; ++c) {
      const float p = j0 + c < n ? expf(srow[c] * a.scale - m_new) : 0.0f;
      Pw[r * kBK + c] = __float2bfloat16_rn(p);
      ls += p;
    }
    ls += __shfl_xor_sync(0xffffffffu, ls, 1);
    l = l * corr + ls;
    m = m_new;
    for (int d = half * (HDP / 2); d < (half + 1) * (HDP / 2); ++d) Ow[r * HDP + d] *= corr;
    __syncwarp();
    // O_w (16 x HDP) += P_w (16 x 64) V (64 x HDP)
#pragma unroll
    for (int db = 0; db < HDP / 16; ++db) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::load_matrix_sync(acc, Ow + db * 16, HDP, wmma::mem_row_major);
#pragma unroll
      for (int kb = 0; kb < kBK / 16; ++kb) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::row_major> fb;
        wmma::load_matrix_sync(fa, Pw + kb * 16, kBK);
        wmma::load_matrix_sync(fb, Vs + kb * 16 * HDP + db * 16, HDP);
        wmma::mma_sync(acc, fa, fb, acc);
      }
      wmma::store_matrix_sync(Ow + db * 16, acc, HDP, wmma::mem_row_major);
    }
    __syncwarp();
  }
  if (t >= a.Tq) return;
  const float inv = 1.0f / l;
  for (int d = half; d < hd; d += 2) orow[d] = Ow[r * HDP + d] * inv;
}

template <class Kernel>
void allow_smem(Kernel k, size_t bytes) {
  if (bytes > 48 * 1024) check(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)),
                               "cudaFuncSetAttribute(shared memory)");
}

size_t simt_smem(int hd) { return size_t(8 * hd + 32 * (hd + 1) + 32 * hd) * 4; }

template <bool kBias>
void launch_simt(const AttnArgs& a) {
  const size_t sm = simt_smem(a.hd);
  allow_smem(attn_simt_kernel<kBias>, sm);
  dim3 grid((a.Tq + 7) / 8, a.H, a.B);
  attn_simt_kernel<kBias><<<grid, dim3(32, 8), sm, stream()>>>(a);
  check_launch("attn_simt_kernel");
}

template <int HDP>
void launch_tc(const AttnArgs& a) {
  constexpr size_t sm = tc_smem_bytes<HDP>();
  allow_smem(attn_tc_kernel<HDP>, sm);
  dim3 grid((a.Tq + kBQ - 1) / kBQ, a.H, a.B);
  attn_tc_kernel<HDP><<<grid, 128, sm, stream()>>>(a);
  check_launch("attn_tc_kernel");
}

void check_attn(const char* op, int B, int Tq, int Tk, int H, int hd) {
  if (B < 0 || Tq < 0 || Tk < 0 || H < 1 || hd < 1 || hd > kMaxHd || B > 65535 || H > 65535)
    throw_invalid(std::string(op) + ": sizes B=" + std::to_string(B) + " Tq=" + std::to_string(Tq) +
                  " Tk=" + std::to_string(Tk) + " H=" + std::to_string(H) + " hd=" + std::to_string(hd) +
                  " (head dimension 1.." + std::to_string(kMaxHd) + ")");
}

// ---- backward ----------------------------------------------------------------------------
// D[b,h,t] = sum_d dO * O over the head's dims; a warp per (b, t, h).
__global__ void attn_bwd_dot_kernel(float* D, const float* dout, const float* o, int B, int Tq, int H, int hd,
                                    int64_t out_stride) {
  const int64_t row = blockIdx.x * int64_t(8) + threadIdx.y;  // (b*Tq + t)*H + h
  if (row >= int64_t(B) * Tq * H) return;
  const int h = int(row % H);
  const int64_t bt = row / H;
  float s = 0.0f;
  for (int d = threadIdx.x; d < hd; d += 32)
    s += dout[bt * out_stride + int64_t(h) * hd + d] * o[bt * int64_t(H) * hd + int64_t(h) * hd + d];
  s = warp_sum(s);
  const int64_t b = bt / Tq, t = bt % Tq;
  if (threadIdx.x == 0) D[(b * H + h) * Tq + t] = s;
}

struct BwdArgs {
  float *dq, *dk, *dv;
  const float *dout, *q, *k, *v, *lse, *D;
  const int* k_lens;
  int B, Tq, Tk, H, hd;
  int64_t q_stride, kv_stride, out_stride;
  float scale;
};

// dQ: a warp per query row; 32-key tiles of K and V in shared memory.
// smem: q and dO rows [8][hd] each, K [32][hd+1], V [32][hd+1].
__global__ void __launch_bounds__(256) attn_bwd_dq_kernel(BwdArgs a) {
  extern __shared__ float smem[];
  const int hd = a.hd, lane = threadIdx.x, w = threadIdx.y, tid = w * 32 + lane;
  const int b = blockIdx.z, h = blockIdx.y, t = blockIdx.x * 8 + w;
  const int n = keys_of(a.k_lens, b, a.Tk);
  if (n == 0) return;
  float* qs = smem + w * hd;
  float* gs = smem + 8 * hd + w * hd;
  float* Ks = smem + 16 * hd;
  float* Vs = Ks + 32 * (hd + 1);
  const bool row_ok = t < a.Tq;
  const int tt = row_ok ? t : 0;
  for (int d = lane; d < hd; d += 32) {
    qs[d] = a.q[(int64_t(b) * a.Tq + tt) * a.q_stride + int64_t(h) * hd + d];
    gs[d] = a.dout[(int64_t(b) * a.Tq + tt) * a.out_stride + int64_t(h) * hd + d];
  }
  const float lse = a.lse[(int64_t(b) * a.H + h) * a.Tq + tt], Dr = a.D[(int64_t(b) * a.H + h) * a.Tq + tt];
  float acc[kMaxPerLane];
#pragma unroll
  for (int i = 0; i < kMaxPerLane; ++i) acc[i] = 0.0f;
  for (int j0 = 0; j0 < n; j0 += 32) {
    __syncthreads();
    for (int idx = tid; idx < 32 * hd; idx += 256) {
      const int jj = idx / hd, d = idx % hd, key = j0 + jj;
      const int64_t off = (int64_t(b) * a.Tk + key) * a.kv_stride + int64_t(h) * hd + d;
      Ks[jj * (hd + 1) + d] = key < n ? a.k[off] : 0.0f;
      Vs[jj * (hd + 1) + d] = key < n ? a.v[off] : 0.0f;
    }
    __syncthreads();
    float ds = 0.0f;
    if (j0 + lane < n) {
      float s = 0.0f, dp = 0.0f;
      for (int d = 0; d < hd; ++d) {
        s += qs[d] * Ks[lane * (hd + 1) + d];
        dp += gs[d] * Vs[lane * (hd + 1) + d];
      }
      const float p = expf(s * a.scale - lse);
      ds = p * (dp - Dr);
    }
    const int valid = min(32, n - j0);
    for (int jj = 0; jj < valid; ++jj) {
      const float dsj = __shfl_sync(0xffffffffu, ds, jj);
#pragma unroll
      for (int i = 0; i < kMaxPerLane; ++i) {
        const int d = lane + 32 * i;
        if (d < hd) acc[i] += dsj * Ks[jj * (hd + 1) + d];
      }
    }
  }
  if (!row_ok) return;
  float* dqr = a.dq + (int64_t(b) * a.Tq + t) * a.q_stride + int64_t(h) * hd;
#pragma unroll
  for (int i = 0; i < kMaxPerLane; ++i) {
    const int d = lane + 32 * i;
    if (d < hd) dqr[d] += acc[i] * a.scale;
  }
}

// dK, dV: a warp per key row; 32-query tiles of Q and dO in shared memory.
// smem: k and v rows [8][hd] each, Q [32][hd+1], dO [32][hd+1], lse/D [32] each.
__global__ void __launch_bounds__(256) attn_bwd_dkv_kernel(BwdArgs a) {
  extern __shared__ float smem[];
  const int hd = a.hd, lane = threadIdx.x, w = threadIdx.y, tid = w * 32 + lane;
  const int b = blockIdx.z, h = blockIdx.y, j = blockIdx.x * 8 + w;
  const int n = keys_of(a.k_lens, b, a.Tk);
  if (blockIdx.x * 8 >= n) return;  // the whole block is past the sample's keys
  float* ks = smem + w * hd;
  float* vs = smem + 8 * hd + w * hd;
  float* Qs = smem + 16 * hd;
  float* Gs = Qs + 32 * (hd + 1);
  float* Ls = Gs + 32 * (hd + 1);
  float* Ds = Ls + 32;
  const bool row_ok = j < n;
  const int jj0 = row_ok ? j : 0;
  for (int d = lane; d < hd; d += 32) {
    const int64_t off = (int64_t(b) * a.Tk + jj0) * a.kv_stride + int64_t(h) * hd + d;
    ks[d] = a.k[off];
    vs[d] = a.v[off];
  }
  float dk[kMaxPerLane], dv[kMaxPerLane];
#pragma unroll
  for (int i = 0; i < kMaxPerLane; ++i) dk[i] = dv[i] = 0.0f;
  for (int t0 = 0; t0 < a.Tq; t0 += 32) {
    __syncthreads();
    for (int idx = tid; idx < 32 * hd; idx += 256) {
      const int ii = idx / hd, d = idx % hd, t = t0 + ii;
      const bool ok = t < a.Tq;
      Qs[ii * (hd + 1) + d] = ok ? a.q[(int64_t(b) * a.Tq + t) * a.q_stride + int64_t(h) * hd + d] : 0.0f;
      Gs[ii * (hd + 1) + d] = ok ? a.dout[(int64_t(b) * a.Tq + t) * a.out_stride + int64_t(h) * hd + d] : 0.0f;
    }
    if (tid < 32) {
      const int t = t0 + tid;
      Ls[tid] = t < a.Tq ? a.lse[(int64_t(b) * a.H + h) * a.Tq + t] : 0.0f;
      Ds[tid] = t < a.Tq ? a.D[(int64_t(b) * a.H + h) * a.Tq + t] : 0.0f;
    }
    __syncthreads();
    float p = 0.0f, ds = 0.0f;
    if (t0 + lane < a.Tq && row_ok) {
      float s = 0.0f, dp = 0.0f;
      for (int d = 0; d < hd; ++d) {
        s += Qs[lane * (hd + 1) + d] * ks[d];
        dp += Gs[lane * (hd + 1) + d] * vs[d];
      }
      p = expf(s * a.scale - Ls[lane]);
      ds = p * (dp - Ds[lane]);
    }
    const int valid = min(32, a.Tq - t0);
    for (int ii = 0; ii < valid; ++ii) {
      const float pi = __shfl_sync(0xffffffffu, p, ii), dsi = __shfl_sync(0xffffffffu, ds, ii);
#pragma unroll
      for (int i = 0; i < kMaxPerLane; ++i) {
        const int d = lane + 32 * i;
        if (d < hd) {
          dv[i] += pi * Gs[ii * (hd + 1) + d];
          dk[i] += dsi * Qs[ii * (hd + 1) + d];
        }
      }
    }
  }
  if (!row_ok) return;
  const int64_t off = (int64_t(b) * a.Tk + j) * a.kv_stride + int64_t(h) * hd;
#pragma unroll
  for (int i = 0; i < kMaxPerLane; ++i) {
    const int d = lane + 32 * i;
    if (d < hd) {
      a.dk[off + d] += dk[i] * a.scale;
      a.dv[off + d] += dv[i];
    }
  }
}

}  // namespace

void attention_forward(float* out, const float* q, const float* k, const float* v, const int* k_lens, int B, int Tq,
                       int Tk, int H, int hd, int64_t q_stride, int64_t kv_stride, int64_t out_stride) {
  check_attn("attention_forward", B, Tq, Tk, H, hd);
  if (B == 0 || Tq == 0) return;
  AttnArgs a{out, q, k, v, k_lens, nullptr, nullptr, nullptr, B, Tq, Tk, H, hd, q_stride, kv_stride, out_stride,
             1.0f / sqrtf(float(hd))};
  if (reduced_precision() && hd <= 128) {
    if (hd <= 64)
      launch_tc<64>(a);
    else if (hd <= 80)
      launch_tc<80>(a);
    else
      launch_tc<128>(a);
  } else {
    launch_simt<false>(a);
  }
}

void attention_bias_forward(float* out, const float* q, const float* k, const float* v, const float* bias,
                            const int32_t* key_mask, int B, int Tq, int Tk, int H, int hd, int64_t q_stride,
                            int64_t kv_stride, int64_t out_stride) {
  check_attn("attention_bias_forward", B, Tq, Tk, H, hd);
  if (B == 0 || Tq == 0) return;
  AttnArgs a{out, q, k, v, nullptr, bias, key_mask, nullptr, B, Tq, Tk, H, hd, q_stride, kv_stride, out_stride, 1.0f};
  launch_simt<true>(a);
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const int* k_lens, int B, int Tq, int Tk, int H, int hd, int64_t q_stride,
                        int64_t kv_stride, int64_t out_stride) {
  check_attn("attention_backward", B, Tq, Tk, H, hd);
  if (B == 0 || Tq == 0 || Tk == 0) return;
  const float scale = 1.0f / sqrtf(float(hd));
  const int64_t rows = int64_t(B) * H * Tq;
  float* lse = static_cast<float*>(scratch(kScratchA, size_t(rows) * 2 * 4));
  float* D = lse + rows;
  float* o = static_cast<float*>(scratch(kScratchB, size_t(B) * Tq * H * hd * 4));
  // The forward again, exact, keeping the logsumexp: O [B, Tq, H*hd] contiguous.
  AttnArgs fa{o, q, k, v, k_lens, nullptr, nullptr, lse, B, Tq, Tk, H, hd, q_stride, kv_stride, int64_t(H) * hd, scale};
  launch_simt<false>(fa);
  attn_bwd_dot_kernel<<<unsigned((rows + 7) / 8), dim3(32, 8), 0, stream()>>>(D, dout, o, B, Tq, H, hd, out_stride);
  check_launch("attn_bwd_dot_kernel");
  BwdArgs ba{dq, dk, dv, dout, q, k, v, lse, D, k_lens, B, Tq, Tk, H, hd, q_stride, kv_stride, out_stride, scale};
  const size_t sm_dq = size_t(16 * hd + 64 * (hd + 1)) * 4;
  allow_smem(attn_bwd_dq_kernel, sm_dq);
  attn_bwd_dq_kernel<<<dim3((Tq + 7) / 8, H, B), dim3(32, 8), sm_dq, stream()>>>(ba);
  check_launch("attn_bwd_dq_kernel");
  const size_t sm_kv = size_t(16 * hd + 64 * (hd + 1) + 64) * 4;
  allow_smem(attn_bwd_dkv_kernel, sm_kv);
  attn_bwd_dkv_kernel<<<dim3((Tk + 7) / 8, H, B), dim3(32, 8), sm_kv, stream()>>>(ba);
  check_launch("attn_bwd_dkv_kernel");
}

}  // namespace dimba::cu
