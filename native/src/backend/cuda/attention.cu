// Attention, flash style: no [Tq, Tk] score matrix is stored; keys stream through shared
// memory in tiles with an online softmax (running max m and sum l per query row, the output
// rescaled by exp(m_old - m_new) as the max grows).
// - attn_mma_kernel (reduced precision, hd <= 128, the default): tensor cores through
//   mma.sync with S, P and O in registers (FlashAttention-2's layout), 32 or 16 query rows a
//   warp (mma_threads); see the kernel.
// - attn_tc_kernel (reduced precision, hd <= 128, Dimba's 72 included): tensor cores through
//   WMMA bf16 16x16x16 fragments, f32 accumulation. 64 queries per block (4 warps x 16 rows),
//   64-key tiles; the head dimension is zero-padded to a multiple of 16 (72 -> 80). Scores
//   and the output tile live in shared memory in f32, so the softmax and the rescale are
//   plain per-row code (2 lanes per row) instead of fragment-layout tricks.
// - wide_attention (hd > 128: the VAE's 512, either mode; and hd 81..128 in the tensor-core
//   mode where those kernels do not fit the GPU's shared memory): the scores through memory,
//   two cuBLAS GEMMs and a row softmax per chunk of query rows.
// - attn_simt_kernel (exact f32 up to hd 128, T5's attention_bias, the exact backward's
//   forward): a warp per query row, 32-key tiles; lane j scores key j, then every lane updates
//   its hd/32 output dims.
// - attention_backward: recompute (flash-attention 2 style): the forward's per-row logsumexp,
//   D = rowsum(dO * O), then dQ (a warp per query row) and dK/dV (a warp per key row).
// The tensor-core kernels (mma.sync with 32 or 16 rows a warp, WMMA) are all kept until a GPU
// run has compared them (the op test checks each; bench_cuda times each):
// cuda_set_attention_kernel() switches.
// k_lens: sample b sees its first k_lens[b] keys; none -> zero output (and no gradient).
// - self_attention_forward, cross_attention_forward: PixArt's attention modules, projections
//   and attention handing each other bf16 in the tensor-core mode (see bf16_attention_path);
//   dimba_block_bf16: the whole attention block so, where those paths apply.
// defines: attention_forward, self_attention_forward, cross_attention_forward, dimba_block_bf16,
//          attention_bias_forward, attention_backward
#include <mma.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "backend/cuda/activations.h"
#include "backend/cuda/context.h"
#include "backend/cuda/ops.h"
#include "backend/cuda/ptx.h"

namespace dimba::cu {
namespace {

constexpr int kMaxHd = 512;
constexpr int kMaxPerLane = kMaxHd / 32;  // output dims per lane in the SIMT kernels

// bf16 rows of one attention operand for attn_mma_kernel: element d of token t, head h of
// sample b at p[b * batch + t * row + h * head + d]. The first `chunks` 16-byte pieces of a row
// hold data; the kernel zero-fills the rest of its padded head width.
struct HeadRows {
  const __nv_bfloat16* p;
  int64_t batch, row, head;
  int chunks;
};

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
  // attn_mma_kernel only: q, k, v in bf16 (repacked from q, k, v by pack_heads, or as the
  // projection wrote them), the output in bf16 instead of `out` where out16 is set, and
  // scale * log2(e), set at its launch.
  HeadRows qh{}, kh{}, vh{};
  __nv_bfloat16* out16 = nullptr;
  float scale_log2 = 0.0f;
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

// ---- tensor-core kernel, registers (FlashAttention-2 layout) ---------------------------
// mma.sync m16n8k16 bf16 with documented fragment layouts (PTX ISA, "Matrix Fragments for
// mma.m16n8k16"): lane = 4 * group + tig; A (16x16) regs {row g, cols 2tig..+1}, {row g+8, same},
// {row g, cols 2tig+8..+9}, {row g+8, same}; B (16x8) regs {k 2tig..+1, n g}, {k 2tig+8..+9,
// n g}; C (16x8 f32) {row g, cols 2tig..+1}, {row g+8, same}. So the score tile S stays in
// registers, its C fragments ARE the A fragments of P for P V (two 8-key tiles per 16-key
// step), and the output O stays in registers, rescaled per row (rows g and g+8 per lane).
// 128 queries per block (4 warps of 32 rows, or 8 of 16: see mma_threads; the backward's
// kernels have 8 warps, kMmaThreads); 64-key tiles of K and V, both row-major
// ([key][dim]) in shared memory with rows padded by 8 bf16 (an odd number of 16-byte chunks,
// so ldmatrix's eight row reads hit distinct banks). Fragments come from ldmatrix: Q and K as
// stored (an A fragment, or a K^T B fragment, is a row's two consecutive dims), V transposed
// (a B fragment of V holds two consecutive keys of one dim). The next tile's K and V arrive by
// cp.async into the other of two buffers while this one's products run. q, k, v are first
// repacked once per call into bf16 [B, H, T, HDP] (pack_heads_kernel): a tile row is then
// HDP / 8 16-byte copies, with no conversion inside the kernel.
constexpr int kMmaBQ = 128, kMmaBK = 64, kMmaThreads = 256;

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x (low half) = lo
  return *reinterpret_cast<uint32_t*>(&v);
}

// The A fragment of k-step kk (columns 16 kk .. 16 kk + 15) from the f32 C fragments c of a
// 16-row product, rounded to bf16: how P (or dS) becomes the next product's left operand.
__device__ __forceinline__ void a_fragment(uint32_t (&f)[4], const float (*c)[4], int kk) {
  f[0] = pack_bf16(c[2 * kk][0], c[2 * kk][1]);
  f[1] = pack_bf16(c[2 * kk][2], c[2 * kk][3]);
  f[2] = pack_bf16(c[2 * kk + 1][0], c[2 * kk + 1][1]);
  f[3] = pack_bf16(c[2 * kk + 1][2], c[2 * kk + 1][3]);
}

// acc[mb] += c[mb] T for MB 16-row blocks: c[mb] the f32 C fragments of a 16 x 64 product,
// taken as bf16 A fragments (4 k-steps of 16), T a 64-row tile [row][QS] in shared memory read
// transposed (a B fragment holds two consecutive rows of one column), each of its fragments
// loaded once for all MB blocks. P V in the forward; dS K for dQ, P^T dO and dS^T Q for dK/dV.
template <int MB, int NO, int QS>
__device__ __forceinline__ void mma_tile_transposed(float (*acc)[NO][4], const float (*c)[kMmaBK / 8][4],
                                                    const __nv_bfloat16* T, int mi, int mr) {
#pragma unroll
  for (int kk = 0; kk < kMmaBK / 16; ++kk) {
    uint32_t af[MB][4];
#pragma unroll
    for (int mb = 0; mb < MB; ++mb) a_fragment(af[mb], c[mb], kk);
#pragma unroll
    for (int nt = 0; nt < NO; nt += 2) {
      uint32_t f[4];  // rows 16 kk + 0 / + 8 (i & 1) of column blocks nt (i < 2) and nt + 1
      ldmatrix_x4_trans(f, T + (kk * 16 + (mi & 1) * 8 + mr) * QS + (nt + (mi >> 1)) * 8);
#pragma unroll
      for (int mb = 0; mb < MB; ++mb) {
        mma_bf16(acc[mb][nt], af[mb], f[0], f[1]);
        mma_bf16(acc[mb][nt + 1], af[mb], f[2], f[3]);
      }
    }
  }
}

template <int HDP>
constexpr size_t mma_smem_bytes() {  // Q, then K and V twice
  return (size_t(kMmaBQ) + 4 * size_t(kMmaBK)) * (HDP + 8) * 2;
}

// Rows first..first+rows of one head (`head`: its row 0 in `rows_of`'s layout) into shared
// memory rows of stride QS, HDP wide, by cp.async; zeros from row `valid` on and past the
// row's data, by the block's NT threads. The caller commits.
template <int HDP, int NT = kMmaThreads>
__device__ __forceinline__ void copy_tile(__nv_bfloat16* dst, const HeadRows& rows_of, const __nv_bfloat16* head,
                                          int first, int rows, int valid, int tid) {
  constexpr int V8 = HDP / 8, QS = HDP + 8;
  for (int idx = tid; idx < rows * V8; idx += NT) {
    const int r = idx / V8, c = idx % V8, row = first + r;
    const bool ok = row < valid && c < rows_of.chunks;
    cp_async16(dst + r * QS + c * 8, head + (ok ? int64_t(row) * rows_of.row + c * 8 : 0), ok);
  }
}

// Waits for the streamed tile this iteration reads (the next one, if `more` were started, may
// still be in flight), then for every thread's copies of it.
__device__ __forceinline__ void wait_tile(bool more) {
  if (more)
    cp_async_wait<1>();
  else
    cp_async_wait<0>();
  __syncthreads();
}

__host__ __device__ __forceinline__ const __nv_bfloat16* head_of(const HeadRows& r, int b, int h) {
  return r.p + b * r.batch + h * r.head;
}

// Query rows per warp: 16 MB, as MB m16 blocks. With MB = 2 (FlashAttention-2's layout: 128
// rows over 4 warps) each K and V fragment a warp loads from shared memory feeds both blocks'
// products, half the ldmatrix traffic per product of MB = 1 (8 warps of 16 rows). Counted at
// HDP 80: a warp's 64-key tile is 80 mma.sync and 20 KB of ldmatrix for 16 rows, which at
// 128 B per clock per SM is more shared-memory time than tensor-core time on an H100; 32 rows
// take the same 20 KB for 160 products. HDP 128 keeps MB = 1: two blocks' O, S and Q would
// not fit in 255 registers.
template <int MB>
constexpr int mma_threads() {
  return kMmaBQ / (16 * MB) * 32;
}

template <int HDP, int MB>
__global__ void __launch_bounds__(mma_threads<MB>(), HDP <= 80 ? 2 : 1) attn_mma_kernel(AttnArgs a) {
  constexpr int QS = HDP + 8, TILE = kMmaBK * QS, NT = mma_threads<MB>();
  constexpr int KQ = HDP / 16, NS = kMmaBK / 8, NO = HDP / 8;
  extern __shared__ __align__(16) unsigned char mma_smem[];
  __nv_bfloat16* Qs = reinterpret_cast<__nv_bfloat16*>(mma_smem);  // [BQ][QS]
  __nv_bfloat16* KV = Qs + kMmaBQ * QS;  // buffer i: K at KV + 2 i TILE, V after it, each [BK][QS]
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tig = lane & 3;
  const int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * kMmaBQ, hd = a.hd;
  const int n = keys_of(a.k_lens, b, a.Tk);
  const int wr = warp * 16 * MB;  // the warp's first row in the block
  // This lane's rows: row(mb, hf) = q0 + wr + 16 mb + 8 hf + g, the C fragments' regs 2 hf, 2 hf + 1.
  auto row_of = [&](int mb, int hf) { return q0 + wr + 16 * mb + 8 * hf + g; };
  // Writes this lane's dims d, d + 1 of query row t < Tq (hd is even where out16 is used).
  auto store = [&](int t, int d, float v0, float v1) {
    const int64_t o = (int64_t(b) * a.Tq + t) * a.out_stride + int64_t(h) * hd + d;
    if (a.out16) {
      *reinterpret_cast<__nv_bfloat162*>(a.out16 + o) = __floats2bfloat162_rn(v0, v1);
    } else {
      a.out[o] = v0;
      if (d + 1 < hd) a.out[o + 1] = v1;
    }
  };
  if (n == 0) {
    for (int mb = 0; mb < MB; ++mb)
      for (int hf = 0; hf < 2; ++hf) {
        const int t = row_of(mb, hf);
        for (int d = 2 * tig; d < hd && t < a.Tq; d += 8) store(t, d, 0.0f, 0.0f);
      }
    return;
  }
  const __nv_bfloat16* khead = head_of(a.kh, b, h);
  const __nv_bfloat16* vhead = head_of(a.vh, b, h);
  auto load_kv = [&](int j0, int buf) {
    copy_tile<HDP, NT>(KV + 2 * buf * TILE, a.kh, khead, j0, kMmaBK, n, tid);
    copy_tile<HDP, NT>(KV + (2 * buf + 1) * TILE, a.vh, vhead, j0, kMmaBK, n, tid);
    cp_async_commit();
  };
  copy_tile<HDP, NT>(Qs, a.qh, head_of(a.qh, b, h), q0, kMmaBQ, a.Tq, tid);
  cp_async_commit();
  load_kv(0, 0);
  cp_async_wait<1>();  // Q has landed (the first K, V tile may still be in flight)
  __syncthreads();
  // ldmatrix addresses: lane 8 i + r gives row r of matrix i.
  const int mi = lane >> 3, mr = lane & 7;
  uint32_t qf[MB][KQ][4];  // matrices: rows +0 / +8 (i & 1) of dims +0 / +8 (i >> 1)
#pragma unroll
  for (int mb = 0; mb < MB; ++mb)
#pragma unroll
    for (int kk = 0; kk < KQ; ++kk)
      ldmatrix_x4(qf[mb][kk], Qs + (wr + 16 * mb + (mi & 1) * 8 + mr) * QS + kk * 16 + (mi >> 1) * 8);
  float o[MB][NO][4];
#pragma unroll
  for (int mb = 0; mb < MB; ++mb)
#pragma unroll
    for (int i = 0; i < NO; ++i) o[mb][i][0] = o[mb][i][1] = o[mb][i][2] = o[mb][i][3] = 0.0f;
  float m[MB][2], l[MB][2];  // per row: the running max, and this lane's share of the sum
#pragma unroll
  for (int mb = 0; mb < MB; ++mb) {
    m[mb][0] = m[mb][1] = -INFINITY;
    l[mb][0] = l[mb][1] = 0.0f;
  }
  for (int j0 = 0, buf = 0; j0 < n; j0 += kMmaBK, buf ^= 1) {
    const bool more = j0 + kMmaBK < n;
    if (more) load_kv(j0 + kMmaBK, buf ^ 1);  // that buffer's last readers passed the barrier below
    wait_tile(more);
    const __nv_bfloat16* Ks = KV + 2 * buf * TILE;
    const __nv_bfloat16* Vs = Ks + TILE;
    float s[MB][NS][4];
#pragma unroll
    for (int mb = 0; mb < MB; ++mb)
#pragma unroll
      for (int nt = 0; nt < NS; ++nt) s[mb][nt][0] = s[mb][nt][1] = s[mb][nt][2] = s[mb][nt][3] = 0.0f;
#pragma unroll
    for (int nt = 0; nt < NS; nt += 2)
#pragma unroll
      for (int kk = 0; kk < KQ; ++kk) {
        // K^T B fragments of key blocks nt (i < 2) and nt + 1, dims +0 / +8 (i & 1).
        uint32_t kf[4];
        ldmatrix_x4(kf, Ks + ((nt + (mi >> 1)) * 8 + mr) * QS + kk * 16 + (mi & 1) * 8);
#pragma unroll
        for (int mb = 0; mb < MB; ++mb) {
          mma_bf16(s[mb][nt], qf[mb][kk], kf[0], kf[1]);
          mma_bf16(s[mb][nt + 1], qf[mb][kk], kf[2], kf[3]);
        }
      }
    // The softmax in base 2 with the scale folded in (FlashAttention-2's form): scores stay
    // unscaled, m is their running max, p = 2^(s c - m c) with c = scale log2(e) is one FFMA
    // and one ex2.
    if (j0 + kMmaBK > n) {  // only the tile that crosses the last key masks
#pragma unroll
      for (int mb = 0; mb < MB; ++mb)
#pragma unroll
        for (int nt = 0; nt < NS; ++nt)
#pragma unroll
          for (int e = 0; e < 2; ++e)
            if (j0 + nt * 8 + 2 * tig + e >= n) s[mb][nt][e] = s[mb][nt][2 + e] = -INFINITY;
    }
#pragma unroll
    for (int mb = 0; mb < MB; ++mb)
#pragma unroll
      for (int hf = 0; hf < 2; ++hf) {  // row g + 8 hf of block mb: regs 2 hf, 2 hf + 1
        float mx = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < NS; ++nt) mx = fmaxf(mx, fmaxf(s[mb][nt][2 * hf], s[mb][nt][2 * hf + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float mn = fmaxf(m[mb][hf], mx);                     // finite: key j0 < n is in the tile
        const float c = ex2_approx((m[mb][hf] - mn) * a.scale_log2);  // 0 on the first tile (m = -inf)
        m[mb][hf] = mn;
        l[mb][hf] *= c;
#pragma unroll
        for (int i = 0; i < NO; ++i) {
          o[mb][i][2 * hf] *= c;
          o[mb][i][2 * hf + 1] *= c;
        }
        const float ms = mn * a.scale_log2;
#pragma unroll
        for (int nt = 0; nt < NS; ++nt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            float& p = s[mb][nt][2 * hf + e];
            p = ex2_approx(fmaf(p, a.scale_log2, -ms));  // -inf (masked) -> 0
            l[mb][hf] += p;
          }
      }
    mma_tile_transposed<MB, NO, QS>(o, s, Vs, mi, mr);
    __syncthreads();  // every warp is done with this buffer before the next tile's copies reuse it
  }
#pragma unroll
  for (int mb = 0; mb < MB; ++mb) {
    float inv[2];
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
      float& sum = l[mb][hf];
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      inv[hf] = 1.0f / sum;
    }
#pragma unroll
    for (int nt = 0; nt < NO; ++nt)
#pragma unroll
      for (int hf = 0; hf < 2; ++hf) {
        const int d = nt * 8 + 2 * tig, t = row_of(mb, hf);
        if (d < hd && t < a.Tq) store(t, d, o[mb][nt][2 * hf] * inv[hf], o[mb][nt][2 * hf + 1] * inv[hf]);
      }
    if (a.lse && tig == 0)  // the logsumexp of the scaled scores: m scale + ln(l)
#pragma unroll
      for (int hf = 0; hf < 2; ++hf)
        if (row_of(mb, hf) < a.Tq)
          a.lse[(int64_t(b) * a.H + h) * a.Tq + row_of(mb, hf)] = m[mb][hf] * a.scale + logf(l[mb][hf]);
  }
}

size_t simt_smem(int hd) { return size_t(8 * hd + 32 * (hd + 1) + 32 * hd) * 4; }

template <bool kBias>
void launch_simt(const AttnArgs& a) {
  const size_t sm = simt_smem(a.hd);
  allow_smem(attn_simt_kernel<kBias>, sm, "attention (exact kernel) with head dimension " + std::to_string(a.hd));
  dim3 grid((a.Tq + 7) / 8, a.H, a.B);
  attn_simt_kernel<kBias><<<grid, dim3(32, 8), sm, stream()>>>(a);
  check_launch("attn_simt_kernel");
}

// dst[((b*H + h)*T + t)*HDP + d] = bf16(src[(b*T + t)*stride + h*hd + d]), zero for d >= hd:
// a warp per destination row (grid-stride over the B*H*T rows), lanes over its HDP dims.
__global__ void pack_heads_kernel(__nv_bfloat16* dst, const float* src, int B, int T, int H, int hd, int HDP,
                                  int64_t stride) {
  const int64_t rows = int64_t(B) * H * T;
  for (int64_t row = blockIdx.x * int64_t(blockDim.y) + threadIdx.y; row < rows;
       row += int64_t(gridDim.x) * blockDim.y) {
    const int t = int(row % T);
    const int64_t bh = row / T;
    const int h = int(bh % H);
    const int64_t b = bh / H;
    const float* sr = src + (b * T + t) * stride + int64_t(h) * hd;
    __nv_bfloat16* dr = dst + row * HDP;
    for (int d = threadIdx.x; d < HDP; d += 32) dr[d] = __float2bfloat16_rn(d < hd ? sr[d] : 0.0f);
  }
}

// src repacked into dst, returned as the rows the mma.sync kernels read.
HeadRows pack_heads(__nv_bfloat16* dst, const float* src, int B, int T, int H, int hd, int HDP, int64_t stride) {
  const int64_t rows = int64_t(B) * H * T;
  if (rows > 0) {
    pack_heads_kernel<<<unsigned(std::min<int64_t>((rows + 7) / 8, 65536)), dim3(32, 8), 0, stream()>>>(
        dst, src, B, T, H, hd, HDP, stride);
    check_launch("pack_heads_kernel");
  }
  return HeadRows{dst, int64_t(H) * T * HDP, HDP, int64_t(T) * HDP, HDP / 8};
}

// a.qh, a.kh, a.vh set: runs the kernel for padded head width HDP.
template <int HDP, int MB>
void run_mma_rows(const AttnArgs& a) {
  constexpr size_t sm = mma_smem_bytes<HDP>();
  allow_smem(attn_mma_kernel<HDP, MB>, sm, "attn_mma_kernel");
  dim3 grid((a.Tq + kMmaBQ - 1) / kMmaBQ, a.H, a.B);
  attn_mma_kernel<HDP, MB><<<grid, mma_threads<MB>(), sm, stream()>>>(a);
  check_launch("attn_mma_kernel");
}

template <int HDP>
void run_mma(AttnArgs a) {
  a.scale_log2 = a.scale * 1.44269504088896341f;
  if constexpr (HDP <= 80) {
    if (attention_kernel() == AttentionKernel::Mma) return run_mma_rows<HDP, 2>(a);
  }
  run_mma_rows<HDP, 1>(a);
}

// From f32 q, k, v: each repacked once into bf16 [B, H, T, HDP] (zero-padded heads), so a tile
// row is HDP / 8 contiguous 16-byte copies.
template <int HDP>
void pack_and_run_mma(AttnArgs a) {
  const int64_t nq = int64_t(a.B) * a.H * a.Tq * HDP, nk = int64_t(a.B) * a.H * a.Tk * HDP;
  __nv_bfloat16* buf = static_cast<__nv_bfloat16*>(scratch(kScratchF, size_t(nq + 2 * nk) * 2));
  a.qh = pack_heads(buf, a.q, a.B, a.Tq, a.H, a.hd, HDP, a.q_stride);
  a.kh = pack_heads(buf + nq, a.k, a.B, a.Tk, a.H, a.hd, HDP, a.kv_stride);
  a.vh = pack_heads(buf + nq + nk, a.v, a.B, a.Tk, a.H, a.hd, HDP, a.kv_stride);
  run_mma<HDP>(a);
}

// The mma.sync kernel at hd's padded width; `pack`: q, k, v are f32 and get repacked first.
void mma_attention(const AttnArgs& a, bool pack) {
  if (a.hd <= 64)
    pack ? pack_and_run_mma<64>(a) : run_mma<64>(a);
  else if (a.hd <= 80)
    pack ? pack_and_run_mma<80>(a) : run_mma<80>(a);
  else
    pack ? pack_and_run_mma<128>(a) : run_mma<128>(a);
}

// Whether the tensor-core flash kernel attention_kernel() picks for head dimension hd fits this
// GPU's shared memory: up to 80 everywhere (66 KiB at most); the 128-wide kernels take 102 KiB
// (mma.sync) and 104 KiB (WMMA), more than sm_86/89/120 give: there wide_attention runs instead.
bool flash_fits(int hd) {
  if (hd <= 80) return true;
  return smem_fits(attention_kernel() == AttentionKernel::Wmma ? tc_smem_bytes<128>() : mma_smem_bytes<128>());
}

// ---- wide heads (hd > 128: the VAE's mid-block attention, 512) ------------------------------
// No flash kernel keeps a 512-wide output row in registers, so the scores go through memory,
// a chunk of at most kWideRows query rows at a time, per (b, h): S = scale Q K^T, P = softmax(S),
// O = P V into out, the products by cuBLAS: in the tensor-core mode on bf16 operands (q, k, v
// packed by pack_heads) with P in bf16, in the exact mode in f32 on the strided rows as they
// are, P over S. Counted for the SDXL VAE at 1024px (Tk = 16384, one head): 0.55 TFLOP, which the
// SIMT kernel runs on FMAs each waiting on a shared-memory load, and 144 KiB of shared memory a
// block that the RTX cards do not have; here 64 MiB (exact) or 96 MiB of scratch.
// Also where a 128-wide tensor-core kernel does not fit the GPU's shared memory (flash_fits).
constexpr int kWideRows = 1024;

// out[r][j] = softmax of S[r][.] over the first n = keys_of(k_lens, b, Tk) keys, 0 past them
// (everywhere when n = 0), stored as P (in place over S for f32): a warp per row, rows `ld` apart.
template <class P>
__global__ void softmax_rows_kernel(P* out, const float* S, int rows, int Tk, int64_t ld, const int* k_lens, int b) {
  const int lane = threadIdx.x & 31, warps = blockDim.x >> 5, n = keys_of(k_lens, b, Tk);
  for (int r = blockIdx.x * warps + (threadIdx.x >> 5); r < rows; r += gridDim.x * warps) {
    const float* s = S + r * ld;
    float mx = -INFINITY, sum = 0.0f;
    for (int j = lane; j < n; j += 32) mx = fmaxf(mx, s[j]);
    mx = warp_max(mx);
    for (int j = lane; j < n; j += 32) sum += expf(s[j] - mx);
    const float inv = n > 0 ? 1.0f / warp_sum(sum) : 0.0f;
    for (int j = lane; j < Tk; j += 32) store(out + r * ld + j, j < n ? expf(s[j] - mx) * inv : 0.0f);
  }
}

// Without keys (Tk = 0) S is empty and O = P V a product without terms: zeros, by the GEMMs.
void wide_attention(const AttnArgs& a) {
  const bool bf16 = reduced_precision();
  const int HDP = (a.hd + 7) / 8 * 8, ld = (a.Tk + 7) / 8 * 8, R = std::min(a.Tq, kWideRows);
  HeadRows q{}, k{}, v{};
  if (bf16) {
    const int64_t nq = int64_t(a.B) * a.H * a.Tq * HDP, nk = int64_t(a.B) * a.H * a.Tk * HDP;
    auto* buf = static_cast<__nv_bfloat16*>(scratch(kScratchF, size_t(nq + 2 * nk) * 2));
    q = pack_heads(buf, a.q, a.B, a.Tq, a.H, a.hd, HDP, a.q_stride);
    k = pack_heads(buf + nq, a.k, a.B, a.Tk, a.H, a.hd, HDP, a.kv_stride);
    v = pack_heads(buf + nq + nk, a.v, a.B, a.Tk, a.H, a.hd, HDP, a.kv_stride);
  }
  float* S = static_cast<float*>(scratch(kScratchB, size_t(R) * ld * (bf16 ? 6 : 4)));
  for (int b = 0; b < a.B; ++b)
    for (int h = 0; h < a.H; ++h)
      for (int t0 = 0; t0 < a.Tq; t0 += R) {
        const int rows = std::min(R, a.Tq - t0);
        float* o = a.out + (int64_t(b) * a.Tq + t0) * a.out_stride + int64_t(h) * a.hd;
        const unsigned grid = blocks_for(rows, 8);
        if (bf16) {
          auto* P16 = reinterpret_cast<__nv_bfloat16*>(S + size_t(R) * ld);  // after S
          gemm_bf16(false, true, rows, a.Tk, HDP, a.scale, head_of(q, b, h) + int64_t(t0) * HDP, HDP,
                    head_of(k, b, h), HDP, 0.0f, S, ld);
          softmax_rows_kernel<__nv_bfloat16><<<grid, 256, 0, stream()>>>(P16, S, rows, a.Tk, ld, a.k_lens, b);
          check_launch("softmax_rows_kernel");
          gemm_bf16(false, false, rows, a.hd, a.Tk, 1.0f, P16, ld, head_of(v, b, h), HDP, 0.0f, o, int(a.out_stride));
        } else {
          const float* qf = a.q + (int64_t(b) * a.Tq + t0) * a.q_stride + int64_t(h) * a.hd;
          const int64_t kv = int64_t(b) * a.Tk * a.kv_stride + int64_t(h) * a.hd;
          sgemm(false, true, rows, a.Tk, a.hd, a.scale, qf, int(a.q_stride), a.k + kv, int(a.kv_stride), 0.0f, S, ld);
          softmax_rows_kernel<float><<<grid, 256, 0, stream()>>>(S, S, rows, a.Tk, ld, a.k_lens, b);
          check_launch("softmax_rows_kernel");
          sgemm(false, false, rows, a.hd, a.Tk, 1.0f, S, ld, a.v + kv, int(a.kv_stride), 0.0f, o, int(a.out_stride));
        }
      }
}

template <int HDP>
void launch_tc(const AttnArgs& a) {
  constexpr size_t sm = tc_smem_bytes<HDP>();
  allow_smem(attn_tc_kernel<HDP>, sm, "attn_tc_kernel");
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

// ---- tensor-core backward ------------------------------------------------------------------
// The reduced mode's backward for head dims up to 80 (FlashAttention-2's maths, with q, k, v and
// dO in bf16 [B, H, T, HDP] and f32 accumulation), as two kernels shaped like the forward, so
// neither needs atomics or a transpose through shared memory:
// - dQ: a block per 128 queries streams the key tiles: S = Q K^T and dP = dO V^T, then
//   dS = P (dP - D) with P = exp(S scale - lse), and dQ += dS K (K read transposed, as the
//   forward reads V);
// - dK, dV: a block per 128 keys streams the query tiles: S^T = K Q^T and dP^T = V dO^T, then
//   dV += P^T dO and dK += dS^T Q.
// lse and D come from the forward run again by attn_mma_kernel (its output in f32).
struct MmaBwdArgs {
  float *dq, *dk, *dv;  // accumulated, at BwdArgs' strides
  HeadRows qh, kh, vh, gh;  // q, k, v, dO in bf16
  const float *lse, *D;     // [B, H, Tq]
  const int* k_lens;
  int B, Tq, Tk, H, hd;
  int64_t q_stride, kv_stride;
  float scale, scale_log2;
};

template <int HDP>
constexpr size_t mma_bwd_smem_bytes() {  // two 128-row tiles, two 64-row tiles twice, dK/dV's lse and D twice
  return (2 * size_t(kMmaBQ) + 4 * size_t(kMmaBK)) * (HDP + 8) * 2 + 4 * size_t(kMmaBK) * 4;
}

// s = A1 X^T and t = A2 Y^T for a warp's 16 rows against a 64-row tile of X and of Y (KQ
// k-steps of A's fragments in registers; X, Y rows in shared memory, read as the forward reads
// K): the two score-shaped products each backward kernel takes per tile.
template <int KQ, int QS>
__device__ __forceinline__ void two_products(float (&s)[kMmaBK / 8][4], float (&t)[kMmaBK / 8][4],
                                             const uint32_t (&a1)[KQ][4], const uint32_t (&a2)[KQ][4],
                                             const __nv_bfloat16* X, const __nv_bfloat16* Y, int mi, int mr) {
#pragma unroll
  for (int nt = 0; nt < kMmaBK / 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) s[nt][e] = t[nt][e] = 0.0f;
#pragma unroll
  for (int nt = 0; nt < kMmaBK / 8; nt += 2)
#pragma unroll
    for (int kk = 0; kk < KQ; ++kk) {
      const int off = ((nt + (mi >> 1)) * 8 + mr) * QS + kk * 16 + (mi & 1) * 8;
      uint32_t xf[4], yf[4];
      ldmatrix_x4(xf, X + off);
      ldmatrix_x4(yf, Y + off);
      mma_bf16(s[nt], a1[kk], xf[0], xf[1]);
      mma_bf16(s[nt + 1], a1[kk], xf[2], xf[3]);
      mma_bf16(t[nt], a2[kk], yf[0], yf[1]);
      mma_bf16(t[nt + 1], a2[kk], yf[2], yf[3]);
    }
}

// A fragments of this warp's 16 rows of two 128-row tiles in shared memory, all KQ k-steps.
template <int KQ, int QS>
__device__ __forceinline__ void warp_rows(uint32_t (&f1)[KQ][4], uint32_t (&f2)[KQ][4], const __nv_bfloat16* T1,
                                          const __nv_bfloat16* T2, int warp, int mi, int mr) {
#pragma unroll
  for (int kk = 0; kk < KQ; ++kk) {
    const int off = (warp * 16 + (mi & 1) * 8 + mr) * QS + kk * 16 + (mi >> 1) * 8;
    ldmatrix_x4(f1[kk], T1 + off);
    ldmatrix_x4(f2[kk], T2 + off);
  }
}

template <int HDP>
__global__ void __launch_bounds__(kMmaThreads, 1) attn_bwd_dq_mma_kernel(MmaBwdArgs a) {
  constexpr int QS = HDP + 8, TILE = kMmaBK * QS;
  constexpr int KQ = HDP / 16, NS = kMmaBK / 8, NO = HDP / 8;
  extern __shared__ __align__(16) unsigned char mma_smem[];
  __nv_bfloat16* Qs = reinterpret_cast<__nv_bfloat16*>(mma_smem);  // [BQ][QS]
  __nv_bfloat16* Gs = Qs + kMmaBQ * QS;                               // dO [BQ][QS]
  __nv_bfloat16* KV = Gs + kMmaBQ * QS;  // buffer i: K at KV + 2 i TILE, V after it
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tig = lane & 3;
  const int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * kMmaBQ, hd = a.hd;
  const int n = keys_of(a.k_lens, b, a.Tk);
  if (n == 0) return;
  const int ta = q0 + warp * 16 + g, tb = ta + 8;  // this lane's two query rows
  const int64_t r0 = (int64_t(b) * a.H + h) * a.Tq;
  const float la = ta < a.Tq ? a.lse[r0 + ta] * 1.44269504088896341f : 0.0f, da = ta < a.Tq ? a.D[r0 + ta] : 0.0f;
  const float lb = tb < a.Tq ? a.lse[r0 + tb] * 1.44269504088896341f : 0.0f, db = tb < a.Tq ? a.D[r0 + tb] : 0.0f;
  const __nv_bfloat16* khead = head_of(a.kh, b, h);
  const __nv_bfloat16* vhead = head_of(a.vh, b, h);
  auto load_kv = [&](int j0, int buf) {
    copy_tile<HDP>(KV + 2 * buf * TILE, a.kh, khead, j0, kMmaBK, n, tid);
    copy_tile<HDP>(KV + (2 * buf + 1) * TILE, a.vh, vhead, j0, kMmaBK, n, tid);
    cp_async_commit();
  };
  copy_tile<HDP>(Qs, a.qh, head_of(a.qh, b, h), q0, kMmaBQ, a.Tq, tid);
  copy_tile<HDP>(Gs, a.gh, head_of(a.gh, b, h), q0, kMmaBQ, a.Tq, tid);
  cp_async_commit();
  load_kv(0, 0);
  cp_async_wait<1>();  // Q and dO have landed
  __syncthreads();
  const int mi = lane >> 3, mr = lane & 7;
  uint32_t qf[KQ][4], gf[KQ][4];
  warp_rows<KQ, QS>(qf, gf, Qs, Gs, warp, mi, mr);
  float acc[NO][4];
#pragma unroll
  for (int i = 0; i < NO; ++i) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.0f;
  for (int j0 = 0, buf = 0; j0 < n; j0 += kMmaBK, buf ^= 1) {
    const bool more = j0 + kMmaBK < n;
    if (more) load_kv(j0 + kMmaBK, buf ^ 1);
    wait_tile(more);
    const __nv_bfloat16* Ks = KV + 2 * buf * TILE;
    const __nv_bfloat16* Vs = Ks + TILE;
    float s[NS][4], dp[NS][4];  // S = Q K^T, dP = dO V^T
    two_products<KQ, QS>(s, dp, qf, gf, Ks, Vs, mi, mr);
    // dS = P (dP - D), P = 2^(S c - lse log2(e)). Keys past the sample's last need no mask:
    // their rows of K are zeros, which is all their dS meets.
#pragma unroll
    for (int nt = 0; nt < NS; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float p = ex2_approx(fmaf(s[nt][e], a.scale_log2, -(e < 2 ? la : lb)));
        s[nt][e] = p * (dp[nt][e] - (e < 2 ? da : db));
      }
    mma_tile_transposed<1, NO, QS>(&acc, &s, Ks, mi, mr);  // K read as the forward reads V
    __syncthreads();
  }
#pragma unroll
  for (int nt = 0; nt < NO; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int d = nt * 8 + 2 * tig + (e & 1), t = e < 2 ? ta : tb;
      if (d < hd && t < a.Tq) a.dq[(int64_t(b) * a.Tq + t) * a.q_stride + int64_t(h) * hd + d] += acc[nt][e] * a.scale;
    }
}

template <int HDP>
__global__ void __launch_bounds__(kMmaThreads, 1) attn_bwd_dkv_mma_kernel(MmaBwdArgs a) {
  constexpr int QS = HDP + 8, TILE = kMmaBK * QS;
  constexpr int KQ = HDP / 16, NS = kMmaBK / 8, NO = HDP / 8;
  extern __shared__ __align__(16) unsigned char mma_smem[];
  __nv_bfloat16* Ks = reinterpret_cast<__nv_bfloat16*>(mma_smem);  // [BQ][QS]: 128 keys
  __nv_bfloat16* Vs = Ks + kMmaBQ * QS;
  __nv_bfloat16* QG = Vs + kMmaBQ * QS;  // buffer i: Q at QG + 2 i TILE, dO after it
  float* LD = reinterpret_cast<float*>(QG + 4 * TILE);  // buffer i: the tile's lse log2(e) and D
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, tig = lane & 3;
  const int b = blockIdx.z, h = blockIdx.y, k0 = blockIdx.x * kMmaBQ, hd = a.hd;
  const int n = keys_of(a.k_lens, b, a.Tk);
  if (k0 >= n) return;  // every key of the block is past the sample's last: no gradient
  const int ja = k0 + warp * 16 + g, jb = ja + 8;  // this lane's two key rows
  const int64_t r0 = (int64_t(b) * a.H + h) * a.Tq;
  const __nv_bfloat16* qhead = head_of(a.qh, b, h);
  const __nv_bfloat16* ghead = head_of(a.gh, b, h);
  // Queries past the last need no mask: their rows of Q and dO are zeros, which is all their P
  // and dS meet.
  auto load_qg = [&](int i0, int buf) {
    copy_tile<HDP>(QG + 2 * buf * TILE, a.qh, qhead, i0, kMmaBK, a.Tq, tid);
    copy_tile<HDP>(QG + (2 * buf + 1) * TILE, a.gh, ghead, i0, kMmaBK, a.Tq, tid);
    cp_async_commit();
    for (int i = tid; i < kMmaBK; i += kMmaThreads) {
      const int t = i0 + i;
      LD[2 * buf * kMmaBK + i] = t < a.Tq ? a.lse[r0 + t] * 1.44269504088896341f : 0.0f;
      LD[(2 * buf + 1) * kMmaBK + i] = t < a.Tq ? a.D[r0 + t] : 0.0f;
    }
  };
  copy_tile<HDP>(Ks, a.kh, head_of(a.kh, b, h), k0, kMmaBQ, n, tid);
  copy_tile<HDP>(Vs, a.vh, head_of(a.vh, b, h), k0, kMmaBQ, n, tid);
  cp_async_commit();
  load_qg(0, 0);
  cp_async_wait<1>();  // K and V have landed
  __syncthreads();
  const int mi = lane >> 3, mr = lane & 7;
  uint32_t kf[KQ][4], vf[KQ][4];
  warp_rows<KQ, QS>(kf, vf, Ks, Vs, warp, mi, mr);
  float dk[NO][4], dv[NO][4];
#pragma unroll
  for (int i = 0; i < NO; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[i][e] = dv[i][e] = 0.0f;
  for (int i0 = 0, buf = 0; i0 < a.Tq; i0 += kMmaBK, buf ^= 1) {
    const bool more = i0 + kMmaBK < a.Tq;
    if (more) load_qg(i0 + kMmaBK, buf ^ 1);
    wait_tile(more);
    const __nv_bfloat16* Qt = QG + 2 * buf * TILE;
    const __nv_bfloat16* Gt = Qt + TILE;
    const float* Lt = LD + 2 * buf * kMmaBK;
    const float* Dt = Lt + kMmaBK;
    float st[NS][4], dpt[NS][4];  // S^T = K Q^T, dP^T = V dO^T: this warp's 16 keys x 64 queries
    two_products<KQ, QS>(st, dpt, kf, vf, Qt, Gt, mi, mr);
    // P^T and dS^T, a query per column.
#pragma unroll
    for (int nt = 0; nt < NS; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int c = nt * 8 + 2 * tig + (e & 1);
        const float p = ex2_approx(fmaf(st[nt][e], a.scale_log2, -Lt[c]));
        st[nt][e] = p;
        dpt[nt][e] = p * (dpt[nt][e] - Dt[c]);
      }
    mma_tile_transposed<1, NO, QS>(&dv, &st, Gt, mi, mr);  // dO and Q read as the forward reads V
    mma_tile_transposed<1, NO, QS>(&dk, &dpt, Qt, mi, mr);
    __syncthreads();
  }
#pragma unroll
  for (int nt = 0; nt < NO; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int d = nt * 8 + 2 * tig + (e & 1), j = e < 2 ? ja : jb;
      if (d >= hd || j >= n) continue;
      const int64_t off = (int64_t(b) * a.Tk + j) * a.kv_stride + int64_t(h) * hd + d;
      a.dk[off] += dk[nt][e] * a.scale;
      a.dv[off] += dv[nt][e];
    }
}

// D = rowsum(dO O) per (b, h, t) (ba.D's buffer), from the forward's output o (both paths).
void row_dots(float* D, const BwdArgs& ba, const float* o) {
  const int64_t rows = int64_t(ba.B) * ba.H * ba.Tq;
  attn_bwd_dot_kernel<<<unsigned((rows + 7) / 8), dim3(32, 8), 0, stream()>>>(D, ba.dout, o, ba.B, ba.Tq, ba.H, ba.hd,
                                                                              ba.out_stride);
  check_launch("attn_bwd_dot_kernel");
}

// The reduced mode's backward at padded width HDP: q, k, v and dO packed into bf16 once, the
// forward again on tensor cores (fa: its f32 output and logsumexp), D, then the two kernels.
template <int HDP>
void mma_attention_backward(AttnArgs fa, const BwdArgs& ba, float* D) {
  const int64_t nq = int64_t(ba.B) * ba.H * ba.Tq * HDP, nk = int64_t(ba.B) * ba.H * ba.Tk * HDP;
  auto* buf = static_cast<__nv_bfloat16*>(scratch(kScratchF, size_t(2 * nq + 2 * nk) * 2));
  fa.qh = pack_heads(buf, ba.q, ba.B, ba.Tq, ba.H, ba.hd, HDP, ba.q_stride);
  const HeadRows gh = pack_heads(buf + nq, ba.dout, ba.B, ba.Tq, ba.H, ba.hd, HDP, ba.out_stride);
  fa.kh = pack_heads(buf + 2 * nq, ba.k, ba.B, ba.Tk, ba.H, ba.hd, HDP, ba.kv_stride);
  fa.vh = pack_heads(buf + 2 * nq + nk, ba.v, ba.B, ba.Tk, ba.H, ba.hd, HDP, ba.kv_stride);
  run_mma<HDP>(fa);
  row_dots(D, ba, fa.out);
  const MmaBwdArgs mb{ba.dq, ba.dk, ba.dv, fa.qh, fa.kh, fa.vh, gh, ba.lse, ba.D, ba.k_lens, ba.B, ba.Tq, ba.Tk,
                      ba.H, ba.hd, ba.q_stride, ba.kv_stride, ba.scale, ba.scale * 1.44269504088896341f};
  constexpr size_t sm = mma_bwd_smem_bytes<HDP>();
  allow_smem(attn_bwd_dq_mma_kernel<HDP>, sm, "attn_bwd_dq_mma_kernel");
  attn_bwd_dq_mma_kernel<HDP><<<dim3((ba.Tq + kMmaBQ - 1) / kMmaBQ, ba.H, ba.B), kMmaThreads, sm, stream()>>>(mb);
  check_launch("attn_bwd_dq_mma_kernel");
  allow_smem(attn_bwd_dkv_mma_kernel<HDP>, sm, "attn_bwd_dkv_mma_kernel");
  attn_bwd_dkv_mma_kernel<HDP><<<dim3((ba.Tk + kMmaBQ - 1) / kMmaBQ, ba.H, ba.B), kMmaThreads, sm, stream()>>>(mb);
  check_launch("attn_bwd_dkv_mma_kernel");
}

}  // namespace

void attention_forward(float* out, const float* q, const float* k, const float* v, const int* k_lens, int B, int Tq,
                       int Tk, int H, int hd, int64_t q_stride, int64_t kv_stride, int64_t out_stride) {
  check_attn("attention_forward", B, Tq, Tk, H, hd);
  if (B == 0 || Tq == 0) return;
  AttnArgs a{out, q, k, v, k_lens, nullptr, nullptr, nullptr, B, Tq, Tk, H, hd, q_stride, kv_stride, out_stride,
             1.0f / sqrtf(float(hd))};
  if (hd > 128 || (reduced_precision() && !flash_fits(hd)))
    wide_attention(a);
  else if (!reduced_precision())
    launch_simt<false>(a);  // exact
  else if (attention_kernel() != AttentionKernel::Wmma)
    mma_attention(a, true);
  else if (hd <= 64)
    launch_tc<64>(a);
  else if (hd <= 80)
    launch_tc<80>(a);
  else
    launch_tc<128>(a);
}

// The attention ops' bf16 path: with bf16 weights in the tensor-core mode (mma.sync kernel,
// head dims a multiple of 8) the projections and the attention hand each other bf16: the
// projections write q, k, v in bf16 (cuBLASLt, f32 bias, one rounding), which the kernel reads
// in place (no f32 copies, no pack_heads), and the kernel writes its output in bf16, which the
// output projection reads as it is. The roundings are those of the separate ops (each rounds
// the same f32 values to bf16 once), so the result is theirs up to cuBLAS's choice of kernel.
// Anywhere else, or where cuBLASLt declines a bf16 output: the separate ops.
namespace {

bool bf16_attention_path(DType wdtype, int C, int H) {
  const int hd = C / H;
  return reduced_precision() && wdtype == DType::BF16 && attention_kernel() != AttentionKernel::Wmma && hd <= 128 &&
         hd % 8 == 0 && flash_fits(hd);
}

void check_module(const char* op, int B, int N, int L, int C, int H) {
  if (B < 0 || N < 0 || L < 0 || H < 1 || C < H || C % H)
    throw_invalid(std::string(op) + ": sizes B=" + std::to_string(B) + " N=" + std::to_string(N) +
                  " L=" + std::to_string(L) + " C=" + std::to_string(C) + " H=" + std::to_string(H));
  check_attn(op, B, N, L, H, C / H);
}

// Once per process: cuBLASLt's refusal changes the speed, not the result.
void tell_declined(const char* op) {
  static bool told = false;
  if (!told) std::fprintf(stderr, "cuda: cuBLASLt declines a bf16 output; %s runs as separate ops\n", op);
  told = true;
}

// self_attention_forward's bf16 path on x16, x in bf16.
void self_attention_16(float* y, float* qkv, float* a, const void* x16, const void* w_qkv, const float* b_qkv,
                       const void* w_proj, const float* b_proj, DType wdtype, int B, int N, int C, int H) {
  const int hd = C / H, M = B * N;
  auto* qkv16 = static_cast<__nv_bfloat16*>(scratch(kScratchF, size_t(M) * 3 * C * 2));
  if (linear_from_16_to_16(qkv16, x16, w_qkv, wdtype, b_qkv, false, M, C, 3 * C)) {
    auto* a16 = static_cast<__nv_bfloat16*>(scratch(kScratchG, size_t(M) * C * 2));
    AttnArgs at{nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, B, N, N, H, hd,
                3 * C, 3 * C, C, 1.0f / sqrtf(float(hd))};
    const int64_t batch = int64_t(N) * 3 * C;
    at.qh = HeadRows{qkv16, batch, 3 * C, hd, hd / 8};
    at.kh = HeadRows{qkv16 + C, batch, 3 * C, hd, hd / 8};
    at.vh = HeadRows{qkv16 + 2 * C, batch, 3 * C, hd, hd / 8};
    at.out16 = a16;
    mma_attention(at, false);
    linear_from_16(y, a16, w_proj, wdtype, b_proj, M, C, C);
    return;
  }
  tell_declined("self_attention_forward");
  linear_from_16(qkv, x16, w_qkv, wdtype, b_qkv, M, C, 3 * C);
  attention_forward(a, qkv, qkv + C, qkv + 2 * C, nullptr, B, N, N, H, hd, 3 * C, 3 * C, C);
  linear_forward(y, a, w_proj, wdtype, b_proj, M, C, C, false);
}

// cross_attention_forward's bf16 path on x16, x in bf16 (L > 0).
void cross_attention_16(float* x, float* q, float* kv, float* a, const void* x16, const float* ctx,
                        const int* ctx_lens, const void* w_q, const float* b_q, const void* w_kv, const float* b_kv,
                        const void* w_proj, const float* b_proj, DType wdtype, int B, int N, int L, int C, int H) {
  const int hd = C / H, M = B * N, ML = B * L;
  const void* ctx16 = to_16(kScratchC, DType::BF16, ctx, int64_t(ML) * C);
  auto* q16 = static_cast<__nv_bfloat16*>(scratch(kScratchF, (size_t(M) * C + size_t(ML) * 2 * C) * 2));
  __nv_bfloat16* kv16 = q16 + int64_t(M) * C;  // 16-byte aligned: C is a multiple of 8
  if (linear_from_16_to_16(q16, x16, w_q, wdtype, b_q, false, M, C, C) &&
      linear_from_16_to_16(kv16, ctx16, w_kv, wdtype, b_kv, false, ML, C, 2 * C)) {
    auto* a16 = static_cast<__nv_bfloat16*>(scratch(kScratchG, size_t(M) * C * 2));
    AttnArgs at{nullptr, nullptr, nullptr, nullptr, ctx_lens, nullptr, nullptr, nullptr, B, N, L, H, hd,
                C, 2 * C, C, 1.0f / sqrtf(float(hd))};
    at.qh = HeadRows{q16, int64_t(N) * C, C, hd, hd / 8};
    at.kh = HeadRows{kv16, int64_t(L) * 2 * C, 2 * C, hd, hd / 8};
    at.vh = HeadRows{kv16 + C, int64_t(L) * 2 * C, 2 * C, hd, hd / 8};
    at.out16 = a16;
    mma_attention(at, false);
    linear_from_16(x, a16, w_proj, wdtype, b_proj, M, C, C, true);
    return;
  }
  tell_declined("cross_attention_forward");
  linear_from_16(q, x16, w_q, wdtype, b_q, M, C, C);
  linear_from_16(kv, ctx16, w_kv, wdtype, b_kv, ML, C, 2 * C);
  attention_forward(a, q, kv, kv + C, ctx_lens, B, N, L, H, hd, C, 2 * C, C);
  linear_forward(x, a, w_proj, wdtype, b_proj, M, C, C, true);
}

}  // namespace

void self_attention_forward(float* y, float* qkv, float* a, const float* x, const void* w_qkv, const float* b_qkv,
                            const void* w_proj, const float* b_proj, DType wdtype, int B, int N, int C, int H) {
  check_module("self_attention_forward", B, N, N, C, H);
  const int hd = C / H, M = B * N;
  if (M == 0) return;
  if (bf16_attention_path(wdtype, C, H)) {
    self_attention_16(y, qkv, a, to_16(kScratchA, DType::BF16, x, int64_t(M) * C), w_qkv, b_qkv, w_proj, b_proj,
                      wdtype, B, N, C, H);
    return;
  }
  linear_forward(qkv, x, w_qkv, wdtype, b_qkv, M, C, 3 * C, false);
  attention_forward(a, qkv, qkv + C, qkv + 2 * C, nullptr, B, N, N, H, hd, 3 * C, 3 * C, C);
  linear_forward(y, a, w_proj, wdtype, b_proj, M, C, C, false);
}

void cross_attention_forward(float* x, float* q, float* kv, float* a, const float* ctx, const int* ctx_lens,
                             const void* w_q, const float* b_q, const void* w_kv, const float* b_kv, const void* w_proj,
                             const float* b_proj, DType wdtype, int B, int N, int L, int C, int H) {
  check_module("cross_attention_forward", B, N, L, C, H);
  const int hd = C / H, M = B * N;
  if (M == 0) return;
  if (L > 0 && bf16_attention_path(wdtype, C, H)) {
    cross_attention_16(x, q, kv, a, to_16(kScratchA, DType::BF16, x, int64_t(M) * C), ctx, ctx_lens, w_q, b_q, w_kv,
                       b_kv, w_proj, b_proj, wdtype, B, N, L, C, H);
    return;
  }
  linear_forward(q, x, w_q, wdtype, b_q, M, C, C, false);
  linear_forward(kv, ctx, w_kv, wdtype, b_kv, B * L, C, 2 * C, false);
  attention_forward(a, q, kv, kv + C, ctx_lens, B, N, L, H, hd, C, 2 * C, C);
  linear_forward(x, a, w_proj, wdtype, b_proj, M, C, C, true);
}

// The attention block with bf16 handed between its steps (see ops.h for the block): the
// LayerNorm+modulation writes the input of qkv and of fc1 in bf16 (layernorm_modulate_to_bf16),
// the gated residual after the self-attention writes the new x in bf16 for the cross-attention's
// q (gated_residual_to_bf16), and the modules take their bf16 paths from there: against the
// composition, two f32 passes over [B N, C] and three conversions fewer.
bool dimba_block_bf16(float* x, const DimbaBlockScratch& s, const float* ctx, const int* ctx_lens,
                      const float* t0, const DimbaBlock& w, int B, int N, int L) {
  const int C = w.C, H = w.H;
  if (!fused_blocks() || !bf16_attention_path(w.wdtype, C, H) || B <= 0 || N <= 0 || L <= 0) return false;
  check_module("dimba_block_forward", B, N, L, C, H);
  const int M = B * N;
  for (int b = 0; b < B; ++b) add_forward(s.mod + int64_t(b) * 6 * C, t0 + int64_t(b) * 6 * C, w.table, 6 * C);
  const float *shift_msa = s.mod, *scale_msa = s.mod + C, *gate_msa = s.mod + 2 * C;
  const float *shift_mlp = s.mod + 3 * C, *scale_mlp = s.mod + 4 * C, *gate_mlp = s.mod + 5 * C;
  auto* x16 = static_cast<__nv_bfloat16*>(scratch(kScratchA, size_t(M) * C * 2));  // each stage's bf16 input
  layernorm_modulate_to_bf16(x16, x, shift_msa, scale_msa, 6 * C, B, N, C, 1e-6f);
  // The buffers as the composition uses them: the output over qkv, the attention's over h.
  self_attention_16(s.qkv, s.qkv, s.h, x16, w.qkv_w, w.qkv_b, w.proj_w, w.proj_b, w.wdtype, B, N, C, H);
  gated_residual_to_bf16(x, x16, s.qkv, gate_msa, B, N, C, 6 * C);
  cross_attention_16(x, s.q, s.kv, s.a, x16, ctx, ctx_lens, w.q_w, w.q_b, w.kv_w, w.kv_b, w.cross_proj_w,
                     w.cross_proj_b, w.wdtype, B, N, L, C, H);
  layernorm_modulate_to_bf16(x16, x, shift_mlp, scale_mlp, 6 * C, B, N, C, 1e-6f);
  mlp_from_16(s.h, s.hid, x16, w.fc1_w, w.fc1_b, w.fc2_w, w.fc2_b, w.wdtype, M, C, w.Hm, C);
  gated_residual_forward(x, s.h, gate_mlp, B, N, C, 6 * C);
  return true;
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
  // The forward again, keeping the logsumexp: O [B, Tq, H*hd] contiguous.
  const AttnArgs fa{o, q, k, v, k_lens, nullptr, nullptr, lse, B, Tq, Tk, H, hd, q_stride, kv_stride,
                    int64_t(H) * hd, scale};
  const BwdArgs ba{dq, dk, dv, dout, q, k, v, lse, D, k_lens, B, Tq, Tk, H, hd, q_stride, kv_stride, out_stride, scale};
  if (reduced_precision() && hd <= 80 && attention_kernel() != AttentionKernel::Wmma) {
    hd <= 64 ? mma_attention_backward<64>(fa, ba, D) : mma_attention_backward<80>(fa, ba, D);
    return;
  }
  // Exact: the SIMT kernels (the shared memory asked first, so a refusal names this op).
  const std::string op = "attention_backward with head dimension " + std::to_string(hd);
  const size_t sm_dq = size_t(16 * hd + 64 * (hd + 1)) * 4, sm_kv = sm_dq + 64 * 4;
  allow_smem(attn_bwd_dq_kernel, sm_dq, op);
  allow_smem(attn_bwd_dkv_kernel, sm_kv, op);
  launch_simt<false>(fa);
  row_dots(D, ba, o);
  attn_bwd_dq_kernel<<<dim3((Tq + 7) / 8, H, B), dim3(32, 8), sm_dq, stream()>>>(ba);
  check_launch("attn_bwd_dq_kernel");
  attn_bwd_dkv_kernel<<<dim3((Tk + 7) / 8, H, B), dim3(32, 8), sm_kv, stream()>>>(ba);
  check_launch("attn_bwd_dkv_kernel");
}

}  // namespace dimba::cu
