// WMMA (nvcuda::wmma) for the CPU emulator. A fragment's element-to-lane mapping is opaque in
// CUDA, so here every lane holds the whole tile; each collective first waits for the whole
// warp, as the lanes of a .sync instruction run together (a lane must not store a tile that
// another lane has yet to load). Products accumulate in f32.
// defines: nvcuda::wmma fragment, load_matrix_sync, store_matrix_sync, mma_sync, fill_fragment
#pragma once
#include "cuda_runtime.h"

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K>
struct tile_shape;  // rows x cols of the tile a fragment of `Use` holds
template <int M, int N, int K>
struct tile_shape<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct tile_shape<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct tile_shape<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static constexpr int rows = tile_shape<Use, M, N, K>::rows, cols = tile_shape<Use, M, N, K>::cols;
  static constexpr int num_elements = rows * cols;
  float v[rows][cols];  // the values, already rounded to T
};

namespace detail {
inline void warp_together() { ::emu::warp_exchange(0xffffffffu, 0); }
template <class T>
float value(const T& x) {
  return float(x);
}
}  // namespace detail

template <class Use, int M, int N, int K, class T, class Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, float v) {
  for (auto& row : f.v)
    for (float& x : row) x = detail::value(T(v));
}

// matrix_a / matrix_b: the layout is the fragment's type parameter.
template <class Use, int M, int N, int K, class T, class Layout, class P>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const P* p, unsigned ldm) {
  static_assert(std::is_same<Layout, row_major>::value || std::is_same<Layout, col_major>::value,
                "an accumulator load names its memory layout");
  detail::warp_together();
  constexpr bool row = std::is_same<Layout, row_major>::value;
  for (int r = 0; r < f.rows; ++r)
    for (int c = 0; c < f.cols; ++c) f.v[r][c] = detail::value(row ? p[r * ldm + c] : p[c * ldm + r]);
}

template <int M, int N, int K, class P>
void load_matrix_sync(fragment<accumulator, M, N, K, float, void>& f, const P* p, unsigned ldm, layout_t layout) {
  detail::warp_together();
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c) f.v[r][c] = float(layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]);
}

template <int M, int N, int K>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float, void>& f, unsigned ldm, layout_t layout) {
  detail::warp_together();
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c) (layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = f.v[r][c];
}

template <int M, int N, int K, class T, class LA, class LB>
void mma_sync(fragment<accumulator, M, N, K, float, void>& d, const fragment<matrix_a, M, N, K, T, LA>& a,
              const fragment<matrix_b, M, N, K, T, LB>& b, const fragment<accumulator, M, N, K, float, void>& c) {
  detail::warp_together();
  float out[M][N];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float s = c.v[i][j];
      for (int k = 0; k < K; ++k) s += a.v[i][k] * b.v[k][j];
      out[i][j] = s;
    }
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) d.v[i][j] = out[i][j];
}

}  // namespace nvcuda::wmma
