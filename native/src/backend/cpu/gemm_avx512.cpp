// The own AVX-512 GEMM kernels (GemmPath::Avx512 and Avx512Bf16), BLIS-style: weights are
// packed one block at a time into 32-column micro-panels, widened to f32 (or kept as bf16
// pairs for VDPBF16PS) while packing, so the whole weight is never expanded; activations are
// packed into 12-row micro-panels; a 12x32 register tile of C (12x16 for a narrow last
// panel) is computed per micro-kernel call. Every function that uses AVX-512 carries a target attribute: the library is built
// for the baseline ISA and only calls these after a run-time CPU check (gemm.cpp).
// defines: gemm_avx512_run
#include "backend/cpu/gemm_kernels.h"
#include "core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

// GCC 12's AVX-512 headers build masked intrinsics on a self-initialised "undefined" vector,
// which -W(maybe-)uninitialized reports at every use; nothing here reads uninitialised data.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define DIMBA_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma")))
#define DIMBA_AVX512BF16 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,f16c,fma")))

namespace dimba::cpu {
namespace {

// Register tile: MR = 12 rows of A (activations) x NR = 16*NV = 32 columns (weight rows),
// 24 of the 32 zmm registers accumulating. 6x64, 8x48 and 14x32 measured the same within
// noise (native/bench/README.md), so the tile stays the simplest.
constexpr int MR = 12, NV = 2, NR = 16 * NV;
// Block sizes. The output C is larger than L3 (2048 x 4608 f32 = 38 MB), and every KC step
// reads and writes all of it once more; with KC = 256 that traffic cost about a sixth of
// the time, so KC is as deep as L2 allows: a KC x NR weight micro-panel (144 KiB f32) and an
// MC x KC activation block (432 KiB) share the 1 MiB L2, and K <= 1152 (most of Dimba) is
// one step. The bf16 path holds two k per 32-bit lane, so the same bytes give twice the K.
// The packed KC x NC weight block (9 MiB f32) streams from L3 once per MC rows.
constexpr int KC_F32 = 1152, KC_BF16 = 2304;
constexpr int MC = 96;
constexpr int NC = 2048;

struct AlignedBuf {
  void* p = nullptr;
  size_t bytes = 0;
  ~AlignedBuf() { std::free(p); }
  template <class T>
  T* get(size_t n) {
    size_t need = (n * sizeof(T) + 63) & ~size_t(63);
    if (need > bytes) {
      std::free(p);
      p = std::aligned_alloc(64, need);
      if (!p) throw EngineError(ErrorCode::OutOfMemory, "gemm: packing buffer");
      bytes = need;
    }
    return static_cast<T*>(p);
  }
};

// ---- packing -------------------------------------------------------------------------------
// Packing is a transpose (rows of A and B are contiguous in k; the kernel wants k-major
// micro-panels). Done element by element it cost a sixth of the bf16 kernel's time, so the
// contiguous-k cases go through 16x16 register transposes; other strides take the scalar
// loops.

// In-place transpose of 16 rows of 16 32-bit lanes: r[c] lane i <- old r[i] lane c.
DIMBA_AVX512 inline void transpose16(__m512i r[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  // u[4g + j], 128-bit lane L: rows 4g..4g+3 of column 4L + j.
  for (int g = 0; g < 16; g += 4) {
    u[g + 0] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
    u[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
    u[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
    u[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
  }
  // A 4x4 transpose of 128-bit lanes among u[j], u[4+j], u[8+j], u[12+j].
  for (int j = 0; j < 4; ++j) {
    __m512i x0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x44);
    __m512i x1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xEE);
    __m512i y0 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x44);
    __m512i y1 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xEE);
    r[j] = _mm512_shuffle_i32x4(x0, y0, 0x88);
    r[4 + j] = _mm512_shuffle_i32x4(x0, y0, 0xDD);
    r[8 + j] = _mm512_shuffle_i32x4(x1, y1, 0x88);
    r[12 + j] = _mm512_shuffle_i32x4(x1, y1, 0xDD);
  }
}

// Masks of the first n lanes (n may be <= 0 or past the width).
inline __mmask16 first16(int n) {
  return n <= 0 ? 0 : n >= 16 ? 0xFFFF : __mmask16((1u << n) - 1);
}
inline __mmask32 first32(int n) {
  return n <= 0 ? 0 : n >= 32 ? 0xFFFFFFFFu : __mmask32((1u << n) - 1);
}

// Up to 16 weights of one row (contiguous k) widened to f32; lanes past n are zero.
DIMBA_AVX512 inline __m512 load_widen(const void* base, ptrdiff_t at, DType dt, int n) {
  if (dt == DType::F32)
    return _mm512_maskz_loadu_ps(first16(n), static_cast<const float*>(base) + at);
  const __m256i h = _mm256_maskz_loadu_epi16(first16(n), static_cast<const uint16_t*>(base) + at);
  if (dt == DType::F16) return _mm512_cvtph_ps(h);  // exact, subnormals included
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// B block (nc x kc from (n0, k0)) -> [nc/NR panels][kc][NR] f32, columns past nc zeroed.
template <int NR>
DIMBA_AVX512 void pack_b_f32(float* dst, const GemmOperands& g, int n0, int nc, int k0, int kc) {
  for (int j0 = 0; j0 < nc; j0 += NR) {
    const int cols = std::min(NR, nc - j0);
    float* panel = dst + size_t(j0) * kc;
    if (g.b_sk == 1) {
      for (int k = 0; k < kc; k += 16) {
        const int kn = std::min(16, kc - k);
        for (int h = 0; h < NR; h += 16) {
          __m512i r[16];
          for (int j = 0; j < 16; ++j)
            r[j] = h + j < cols ? _mm512_castps_si512(load_widen(
                                      g.B, ptrdiff_t(n0 + j0 + h + j) * g.b_sn + k0 + k,
                                      g.b_dtype, kn))
                                : _mm512_setzero_si512();
          transpose16(r);
          for (int c = 0; c < kn; ++c) _mm512_store_si512(panel + size_t(k + c) * NR + h, r[c]);
        }
      }
      continue;
    }
    if (g.b_sn == 1) {  // columns contiguous (sgemm without transB): straight copies
      for (int k = 0; k < kc; ++k) {
        const ptrdiff_t at = ptrdiff_t(k0 + k) * g.b_sk + n0 + j0;
        for (int h = 0; h < NR; h += 16)
          _mm512_store_ps(panel + size_t(k) * NR + h, load_widen(g.B, at + h, g.b_dtype, cols - h));
      }
      continue;
    }
    if (cols < NR) std::memset(panel, 0, sizeof(float) * size_t(kc) * NR);
    for (int j = 0; j < cols; ++j)
      for (int k = 0; k < kc; ++k) {
        const ptrdiff_t at = ptrdiff_t(n0 + j0 + j) * g.b_sn + ptrdiff_t(k0 + k) * g.b_sk;
        panel[size_t(k) * NR + j] = _mm512_cvtss_f32(load_widen(g.B, at, g.b_dtype, 1));
      }
  }
}

// A block (mc x kc from (m0, k0)) -> [mc/MR panels][kc][MR] f32 times alpha, rows past mc
// zeroed.
template <int MR>
DIMBA_AVX512 void pack_a_f32(float* dst, const GemmOperands& g, int m0, int mc, int k0, int kc) {
  const __m512 alpha = _mm512_set1_ps(g.alpha);
  constexpr __mmask16 kRowMask = __mmask16((1u << MR) - 1);
  for (int i0 = 0; i0 < mc; i0 += MR) {
    const int rows = std::min(MR, mc - i0);
    float* panel = dst + size_t(i0) * kc;
    if (g.a_sk == 1) {
      for (int k = 0; k < kc; k += 16) {
        const int kn = std::min(16, kc - k);
        __m512i r[16];
        for (int i = 0; i < 16; ++i)
          r[i] = i < rows ? _mm512_castps_si512(_mm512_mul_ps(
                                alpha, _mm512_maskz_loadu_ps(first16(kn),
                                                             g.A + ptrdiff_t(m0 + i0 + i) * g.a_sm +
                                                                 k0 + k)))
                          : _mm512_setzero_si512();
        transpose16(r);
        for (int c = 0; c < kn; ++c)
          _mm512_mask_storeu_epi32(panel + size_t(k + c) * MR, kRowMask, r[c]);
      }
      continue;
    }
    if (g.a_sm == 1) {  // rows contiguous (sgemm with transA)
      for (int k = 0; k < kc; ++k)
        _mm512_mask_storeu_ps(panel + size_t(k) * MR, kRowMask,
                              _mm512_mul_ps(alpha, _mm512_maskz_loadu_ps(
                                                       first16(rows),
                                                       g.A + ptrdiff_t(k0 + k) * g.a_sk + m0 + i0)));
      continue;
    }
    if (rows < MR) std::memset(panel, 0, sizeof(float) * size_t(kc) * MR);
    for (int i = 0; i < rows; ++i)
      for (int k = 0; k < kc; ++k)
        panel[size_t(k) * MR + i] =
            g.alpha * g.A[ptrdiff_t(m0 + i0 + i) * g.a_sm + ptrdiff_t(k0 + k) * g.a_sk];
  }
}

// B block -> [nc/NR panels][ceil(kc/2)][NR] 32-bit lanes, each the (k, k+1) bf16 pair that
// VDPBF16PS multiplies (k+1 past kc is zero). Only bf16 weights with contiguous k take this
// path, and they are copied, not rounded. A pair is two adjacent bf16 of one row, so the
// packing is a transpose of 32-bit pairs.
template <int NR>
DIMBA_AVX512 void pack_b_bf16(uint16_t* dst, const GemmOperands& g, int n0, int nc, int k0,
                              int kc) {
  const int kp = (kc + 1) / 2;
  const uint16_t* B = static_cast<const uint16_t*>(g.B);
  for (int j0 = 0; j0 < nc; j0 += NR) {
    const int cols = std::min(NR, nc - j0);
    uint32_t* panel = reinterpret_cast<uint32_t*>(dst) + size_t(j0) * kp;
    for (int p = 0; p < kp; p += 16) {
      const int pn = std::min(16, kp - p);
      for (int h = 0; h < NR; h += 16) {
        __m512i r[16];
        for (int j = 0; j < 16; ++j)
          r[j] = h + j < cols ? _mm512_maskz_loadu_epi16(
                                    first32(kc - 2 * p),
                                    B + ptrdiff_t(n0 + j0 + h + j) * g.b_sn + k0 + 2 * p)
                              : _mm512_setzero_si512();
        transpose16(r);
        for (int c = 0; c < pn; ++c) _mm512_store_si512(panel + size_t(p + c) * NR + h, r[c]);
      }
    }
  }
}

// A block -> [mc/MR panels][ceil(kc/2)][MR] bf16 pairs of alpha*A, rounded to nearest even
// (VCVTNE2PS2BF16; it treats f32 subnormals as zero, which moves a product by < 1e-38).
template <int MR>
DIMBA_AVX512BF16 void pack_a_bf16(uint16_t* dst, const GemmOperands& g, int m0, int mc, int k0,
                                  int kc) {
  const int kp = (kc + 1) / 2;
  const __m512 alpha = _mm512_set1_ps(g.alpha);
  constexpr __mmask16 kRowMask = __mmask16((1u << MR) - 1);
  for (int i0 = 0; i0 < mc; i0 += MR) {
    const int rows = std::min(MR, mc - i0);
    uint32_t* panel = reinterpret_cast<uint32_t*>(dst) + size_t(i0) * kp;
    for (int p = 0; p < kp; p += 16) {
      const int pn = std::min(16, kp - p), k = 2 * p;
      __m512i r[16];
      for (int i = 0; i < 16; ++i) {
        if (i >= rows) {
          r[i] = _mm512_setzero_si512();
          continue;
        }
        const float* s = g.A + ptrdiff_t(m0 + i0 + i) * g.a_sm + k0 + k;
        const __m512 lo = _mm512_mul_ps(alpha, _mm512_maskz_loadu_ps(first16(kc - k), s));
        const __m512 hi = _mm512_mul_ps(
            alpha, _mm512_maskz_loadu_ps(first16(std::max(0, kc - k - 16)), s + 16));
        r[i] = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
      }
      transpose16(r);
      for (int c = 0; c < pn; ++c)
        _mm512_mask_storeu_epi32(panel + size_t(p + c) * MR, kRowMask, r[c]);
    }
  }
}

// C is far larger than the caches and each tile is visited once per KC step, so its rows
// would arrive as demand misses at every kernel start; fetching the next tile's rows while
// this one computes hides that latency.
template <int MR, int NR>
inline void prefetch_tile(const float* c, ptrdiff_t ldc) {
  if (!c) return;
  for (int r = 0; r < MR; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + NR - 1), _MM_HINT_T0);
  }
}

// ---- micro-kernels: C[MR x NR] (at c, row stride ldc) = init + A panel x B panel ----------

// NV = 2 is the full tile; NV = 1 covers a last column panel with at most 16 live columns
// (Dimba's x_proj N = 104 and attention's N = 72 end in one), reading the same NR-wide
// packed panel, so it does half the FMAs of a full tile.
template <int MR, int NV>
DIMBA_AVX512 void kernel_f32(int kc, const float* a, const float* b, const float* bias,
                             bool load, float* c, ptrdiff_t ldc, const float* c_next) {
  constexpr int TW = 16 * NV;
  __m512 acc[MR][NV], bv[NV];
  prefetch_tile<MR, TW>(c_next, ldc);
  for (int v = 0; v < NV; ++v) bv[v] = bias ? _mm512_loadu_ps(bias + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v)
      acc[r][v] = load ? _mm512_add_ps(_mm512_loadu_ps(c + r * ldc + 16 * v), bv[v]) : bv[v];
#pragma GCC unroll 2
  for (int k = 0; k < kc; ++k) {
    __m512 w[NV];
    for (int v = 0; v < NV; ++v) w[v] = _mm512_load_ps(b + 16 * v);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 x = _mm512_set1_ps(a[r]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(x, w[v], acc[r][v]);
    }
    a += MR;
    b += NR;
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(c + r * ldc + 16 * v, acc[r][v]);
}

template <int MR, int NV>
DIMBA_AVX512BF16 void kernel_bf16(int kc, const uint16_t* a, const uint16_t* b,
                                  const float* bias, bool load, float* c, ptrdiff_t ldc,
                                  const float* c_next) {
  constexpr int TW = 16 * NV;
  __m512 acc[MR][NV], bv[NV];
  prefetch_tile<MR, TW>(c_next, ldc);
  for (int v = 0; v < NV; ++v) bv[v] = bias ? _mm512_loadu_ps(bias + 16 * v) : _mm512_setzero_ps();
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v)
      acc[r][v] = load ? _mm512_add_ps(_mm512_loadu_ps(c + r * ldc + 16 * v), bv[v]) : bv[v];
  const int kp = (kc + 1) / 2;
  const uint32_t* a32 = reinterpret_cast<const uint32_t*>(a);
#pragma GCC unroll 2
  for (int k = 0; k < kp; ++k) {
    __m512bh w[NV];
    for (int v = 0; v < NV; ++v) w[v] = (__m512bh)_mm512_load_si512(b + 32 * v);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512bh x = (__m512bh)_mm512_set1_epi32(int(a32[r]));
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], x, w[v]);
    }
    a32 += MR;
    b += NR * 2;
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(c + r * ldc + 16 * v, acc[r][v]);
}

// ---- driver ----------------------------------------------------------------------------

template <bool BF16>
void gemm_blocked(const GemmOperands& g) {
  using Elem = std::conditional_t<BF16, uint16_t, float>;
  constexpr int KC = BF16 ? KC_BF16 : KC_F32;
  // Packed element count per k for a panel: bf16 pads k to even.
  auto kpad = [](int kc) { return BF16 ? ((kc + 1) & ~1) : kc; };
  thread_local AlignedBuf bbuf, abuf, biasbuf;
  constexpr int NCB = NC / NR * NR;  // whole panels per block
  const int ncap = (std::min(NCB, g.N) + NR - 1) / NR * NR;
  Elem* bp = bbuf.get<Elem>(size_t(ncap) * kpad(std::min(KC, g.K)));
  Elem* ap = abuf.get<Elem>(size_t(MC) * kpad(std::min(KC, g.K)));
  // A copy of the bias padded to whole panels, so the kernel reads NR values unguarded.
  float* biasp = nullptr;
  if (g.bias) {
    biasp = biasbuf.get<float>(size_t(g.N + NR));
    std::memcpy(biasp, g.bias, sizeof(float) * g.N);
    std::memset(biasp + g.N, 0, sizeof(float) * NR);
  }
  alignas(64) float tmp[MR * NR];

  for (int n0 = 0; n0 < g.N; n0 += NCB) {
    const int nc = std::min(NCB, g.N - n0);
    for (int k0 = 0; k0 < g.K; k0 += KC) {
      const int kc = std::min(KC, g.K - k0);
      const bool first = k0 == 0;
      if constexpr (BF16) pack_b_bf16<NR>(bp, g, n0, nc, k0, kc);
      else pack_b_f32<NR>(bp, g, n0, nc, k0, kc);
      for (int m0 = 0; m0 < g.M; m0 += MC) {
        const int mc = std::min(MC, g.M - m0);
        if constexpr (BF16) pack_a_bf16<MR>(ap, g, m0, mc, k0, kc);
        else pack_a_f32<MR>(ap, g, m0, mc, k0, kc);
        for (int j = 0; j < nc; j += NR) {
          const int cols = std::min(NR, nc - j);
          const Elem* bpanel = bp + size_t(j) * kpad(kc);
          const float* bias = first && biasp ? biasp + n0 + j : nullptr;
          const bool load = !first || g.load_c;
          for (int i = 0; i < mc; i += MR) {
            const int rows = std::min(MR, mc - i);
            const Elem* apanel = ap + size_t(i) * kpad(kc);
            float* c = g.C + ptrdiff_t(m0 + i) * g.ldc + n0 + j;
            // The next tile down, or the top of the next column panel.
            const float* c_next = i + MR < mc ? c + MR * g.ldc
                                  : j + NR < nc ? g.C + ptrdiff_t(m0) * g.ldc + n0 + j + NR
                                                : nullptr;
            if (c_next && (i + 2 * MR > mc && i + MR < mc)) c_next = nullptr;  // partial: skip
            auto kern = [&](float* cc, ptrdiff_t ld) {
              if (cols <= 16) {
                if constexpr (BF16) kernel_bf16<MR, 1>(kc, apanel, bpanel, bias, load, cc, ld, c_next);
                else kernel_f32<MR, 1>(kc, apanel, bpanel, bias, load, cc, ld, c_next);
              } else {
                if constexpr (BF16) kernel_bf16<MR, NV>(kc, apanel, bpanel, bias, load, cc, ld, c_next);
                else kernel_f32<MR, NV>(kc, apanel, bpanel, bias, load, cc, ld, c_next);
              }
            };
            if (rows == MR && cols == NR) {
              kern(c, g.ldc);
            } else {  // edge tile: through a full-size scratch tile, copy back what exists
              if (load)
                for (int r = 0; r < rows; ++r)
                  std::memcpy(tmp + r * NR, c + r * g.ldc, sizeof(float) * cols);
              kern(tmp, NR);
              for (int r = 0; r < rows; ++r)
                std::memcpy(c + r * g.ldc, tmp + r * NR, sizeof(float) * cols);
            }
          }
        }
      }
    }
  }
}

void gemm_one_thread(GemmPath path, const GemmOperands& g) {
  if (path == GemmPath::Avx512Bf16) gemm_blocked<true>(g);
  else gemm_blocked<false>(g);
}

}  // namespace

void gemm_avx512_run(GemmPath path, const GemmOperands& g, int threads) {
  if (g.M <= 0 || g.N <= 0) return;
  // The bf16 packers read rows with contiguous k (a Linear's x and weight).
  DIMBA_CHECK(path == GemmPath::Avx512 || (path == GemmPath::Avx512Bf16 &&
                                           g.b_dtype == DType::BF16 && g.a_sk == 1 &&
                                           g.b_sk == 1));
  // Threads split the output columns in whole micro-panels: each packs only its own weights.
  const int panels = (g.N + NR - 1) / NR;
  threads = std::max(1, std::min(threads, panels));
  if (threads == 1 || g.K == 0) {
    if (g.K == 0) {  // no product: C = init
      for (int i = 0; i < g.M; ++i)
        for (int j = 0; j < g.N; ++j) {
          float* c = g.C + ptrdiff_t(i) * g.ldc + j;
          *c = (g.load_c ? *c : 0.0f) + (g.bias ? g.bias[j] : 0.0f);
        }
      return;
    }
    gemm_one_thread(path, g);
    return;
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    const int p0 = panels * t / threads, p1 = panels * (t + 1) / threads;
    GemmOperands s = g;
    s.N = std::min(g.N, p1 * NR) - p0 * NR;
    s.B = static_cast<const char*>(g.B) + ptrdiff_t(p0) * NR * g.b_sn * ptrdiff_t(dtype_size(g.b_dtype));
    s.bias = g.bias ? g.bias + p0 * NR : nullptr;
    s.C = g.C + p0 * NR;
    if (t + 1 == threads) gemm_one_thread(path, s);
    else pool.emplace_back([path, s] { gemm_one_thread(path, s); });
  }
  for (auto& th : pool) th.join();
}

}  // namespace dimba::cpu

#else  // not x86: gemm_path_available() reports no AVX-512, so this is never reached

namespace dimba::cpu {
void gemm_avx512_run(GemmPath, const GemmOperands&, int) {
  throw EngineError(ErrorCode::Internal, "gemm: AVX-512 kernels are not built for this CPU");
}
}  // namespace dimba::cpu

#endif
