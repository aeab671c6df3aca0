// Tiled encode and decode: the latent plane is cut into tiles of `tile` latent pixels that
// overlap their neighbours by at least `overlap`; each tile runs through the network on its
// own (activation memory: one tile's) and the results are blended with weights that ramp
// linearly across each overlap, so neighbouring tiles cross-fade instead of meeting at an
// edge. Decode blends image pixels. Encode blends, in latent space, the down path's features
// (VaeTiling::whole_latent_blocks: the mid block then runs on the whole latent) or else the
// moments (mean | logvar) before the clamp and exp.
//
// What differs from the untiled result: the GroupNorm statistics are per tile rather than per
// image (every norm of the full-resolution blocks), tile edges see zero padding instead of
// their neighbours, and without whole_latent_blocks the mid block's attention sees only its
// tile. The ramps give tile edges the least weight; tests/test_vae.cpp and
// bench/bench_vae.cpp measure the remaining difference and the seam.
// defines: vae_tile_starts, VaeModel::encode_tiled, VaeModel::decode_tiled, vae_seam_stats
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <vector>

#include "core/error.h"
#include "models/vae.h"

namespace dimba {

std::vector<int> vae_tile_starts(int n, int tile, int overlap) {
  if (n <= tile) return {0};
  std::vector<int> s;
  const int stride = tile - overlap;
  for (int p = 0;; p += stride) {
    if (p + tile >= n) {
      s.push_back(n - tile);  // the last tile ends at the edge (its overlap may be larger)
      break;
    }
    s.push_back(p);
  }
  return s;
}

namespace {

void check_tiling(const VaeTiling& t) {
  if (t.tile < 1 || t.overlap < 0 || t.overlap >= t.tile)
    throw EngineError(ErrorCode::InvalidArgument, "VAE tiling: need tile >= 1 and 0 <= overlap < tile (got tile " +
                                                      std::to_string(t.tile) + ", overlap " +
                                                      std::to_string(t.overlap) + ")");
}

// Blend weights along one axis for tile k of `starts` (each `len` long, in latent pixels)
// sampled at `f` output pixels per latent pixel: a linear ramp up across the overlap with the
// previous tile and down across the overlap with the next one; 1 elsewhere. Two neighbours'
// ramps over the same pixels sum to 1; pixel centres (+0.5) keep every weight above 0.
std::vector<float> axis_weights(const std::vector<int>& starts, size_t k, int len, int f) {
  const int n = len * f, s = starts[k] * f, e = s + n;
  const int ov_prev = k > 0 ? starts[k - 1] * f + n - s : 0;
  const int ov_next = k + 1 < starts.size() ? e - starts[k + 1] * f : 0;
  std::vector<float> wt(static_cast<size_t>(n), 1.0f);
  for (int i = 0; i < n; ++i) {
    const double x = s + i + 0.5;
    double v = 1.0;
    if (ov_prev > 0) v *= std::min(1.0, (x - s) / ov_prev);
    if (ov_next > 0) v *= std::min(1.0, (e - x) / ov_next);
    wt[size_t(i)] = float(v);
  }
  return wt;
}

}  // namespace

void VaeModel::decode_tiled(float* image, const float* latent, int B, int h, int w, const VaeTiling& tiling) {
  check_tiling(tiling);
  if (B < 1 || h < 1 || w < 1) throw EngineError(ErrorCode::InvalidArgument, "VAE decode_tiled: empty latent");
  const int f = cfg_.downscale(), L = cfg_.latent_channels, Co = cfg_.out_channels, C = cfg_.block_out_channels.back();
  const int th = std::min(tiling.tile, h), tw = std::min(tiling.tile, w);
  const std::vector<int> ys = vae_tile_starts(h, th, tiling.overlap), xs = vae_tile_starts(w, tw, tiling.overlap);
  const int64_t H = int64_t(h) * f, W = int64_t(w) * f, tile_px = int64_t(th) * f * tw * f;
  std::vector<float> z(size_t(h) * w * L), feat_t(size_t(th) * tw * C), out(size_t(tile_px) * Co);
  std::vector<float> z_t(tiling.whole_latent_blocks ? 0 : size_t(th) * tw * L);
  std::vector<float> feat(tiling.whole_latent_blocks ? size_t(h) * w * C : 0);  // (h, w, C) the whole trunk
  std::vector<float> wsum(size_t(H * W));
  for (int b = 0; b < B; ++b) {
    const float* lat = latent + int64_t(b) * L * h * w;
    float* img = image + int64_t(b) * Co * H * W;
    for (int c = 0; c < L; ++c)  // the latent, channels-last
      for (int64_t p = 0; p < int64_t(h) * w; ++p) z[size_t(p * L + c)] = lat[c * int64_t(h) * w + p];
    if (tiling.whole_latent_blocks) decode_trunk_nhwc(feat.data(), z.data(), h, w);
    std::fill(img, img + Co * H * W, 0.0f);
    std::fill(wsum.begin(), wsum.end(), 0.0f);
    for (size_t ty = 0; ty < ys.size(); ++ty) {
      const std::vector<float> wy = axis_weights(ys, ty, th, f);
      for (size_t tx = 0; tx < xs.size(); ++tx) {
        const std::vector<float> wx = axis_weights(xs, tx, tw, f);
        // The tile's rows of the trunk output, or of the latent to run the trunk on.
        const std::vector<float>& src = tiling.whole_latent_blocks ? feat : z;
        const int cs = tiling.whole_latent_blocks ? C : L;
        float* dst = tiling.whole_latent_blocks ? feat_t.data() : z_t.data();
        for (int i = 0; i < th; ++i)
          std::memcpy(dst + size_t(i) * tw * cs, src.data() + (size_t(ys[ty] + i) * w + xs[tx]) * cs,
                      size_t(tw) * cs * sizeof(float));
        if (!tiling.whole_latent_blocks) decode_trunk_nhwc(feat_t.data(), z_t.data(), th, tw);
        decode_up_nhwc(out.data(), feat_t.data(), th, tw);
        const int64_t y0 = int64_t(ys[ty]) * f, x0 = int64_t(xs[tx]) * f;
        for (int64_t i = 0; i < int64_t(th) * f; ++i)
          for (int64_t j = 0; j < int64_t(tw) * f; ++j) {
            const float wt = wy[size_t(i)] * wx[size_t(j)];
            const int64_t p = (y0 + i) * W + x0 + j;
            wsum[size_t(p)] += wt;
            const float* o = out.data() + (i * tw * f + j) * Co;
            for (int c = 0; c < Co; ++c) img[c * H * W + p] += wt * o[c];
          }
      }
    }
    for (int c = 0; c < Co; ++c)
      for (int64_t p = 0; p < H * W; ++p) img[c * H * W + p] /= wsum[size_t(p)];
  }
}

void VaeModel::encode_tiled(float* mean, float* std, const float* image, int B, int H, int W,
                            const VaeTiling& tiling) {
  check_tiling(tiling);
  const int f = cfg_.downscale(), L = cfg_.latent_channels, Cin = cfg_.in_channels, C = cfg_.block_out_channels.back();
  if (B < 1 || H < 1 || W < 1 || H % f != 0 || W % f != 0)
    throw EngineError(ErrorCode::InvalidArgument, "VAE encode_tiled: image " + std::to_string(H) + "x" +
                                                      std::to_string(W) + " must be a positive multiple of " +
                                                      std::to_string(f) + " on each side");
  const int h = H / f, w = W / f;
  const int th = std::min(tiling.tile, h), tw = std::min(tiling.tile, w);
  const std::vector<int> ys = vae_tile_starts(h, th, tiling.overlap), xs = vae_tile_starts(w, tw, tiling.overlap);
  const int64_t hw = int64_t(h) * w;
  // What is blended: the down path's features (then the head runs whole) or the moments.
  const int cb = tiling.whole_latent_blocks ? C : 2 * L;
  std::vector<float> x(size_t(th) * f * tw * f * Cin), feat_t(size_t(th) * tw * C), mom_t(size_t(th) * tw * 2 * L);
  std::vector<float> acc(size_t(hw) * cb), wsum(static_cast<size_t>(hw));  // acc: channels-last
  std::vector<float> moments(tiling.whole_latent_blocks ? size_t(hw) * 2 * L : 0);
  for (int b = 0; b < B; ++b) {
    const float* img = image + int64_t(b) * Cin * H * W;
    std::fill(acc.begin(), acc.end(), 0.0f);
    std::fill(wsum.begin(), wsum.end(), 0.0f);
    for (size_t ty = 0; ty < ys.size(); ++ty) {
      const std::vector<float> wy = axis_weights(ys, ty, th, 1);
      for (size_t tx = 0; tx < xs.size(); ++tx) {
        const std::vector<float> wx = axis_weights(xs, tx, tw, 1);
        const int64_t y0 = int64_t(ys[ty]) * f, x0 = int64_t(xs[tx]) * f, TH = int64_t(th) * f, TW = int64_t(tw) * f;
        for (int64_t i = 0; i < TH; ++i)
          for (int64_t j = 0; j < TW; ++j)
            for (int c = 0; c < Cin; ++c) x[size_t((i * TW + j) * Cin + c)] = img[(c * H + y0 + i) * W + x0 + j];
        encode_down_nhwc(feat_t.data(), x.data(), int(TH), int(TW));
        if (!tiling.whole_latent_blocks) encode_head_nhwc(mom_t.data(), feat_t.data(), th, tw);
        const float* t = tiling.whole_latent_blocks ? feat_t.data() : mom_t.data();
        for (int i = 0; i < th; ++i)
          for (int j = 0; j < tw; ++j) {
            const float wt = wy[size_t(i)] * wx[size_t(j)];
            const int64_t p = int64_t(ys[ty] + i) * w + xs[tx] + j;
            wsum[size_t(p)] += wt;
            for (int c = 0; c < cb; ++c) acc[size_t(p * cb + c)] += wt * t[(size_t(i) * tw + j) * cb + c];
          }
      }
    }
    for (int64_t p = 0; p < hw; ++p)
      for (int c = 0; c < cb; ++c) acc[size_t(p * cb + c)] /= wsum[size_t(p)];
    if (tiling.whole_latent_blocks) encode_head_nhwc(moments.data(), acc.data(), h, w);
    vae_moments_to_posterior(mean + b * hw * L, std + b * hw * L,
                             tiling.whole_latent_blocks ? moments.data() : acc.data(), L, hw);
  }
}

VaeSeamStats vae_seam_stats(const float* image, int C, int h, int w, int factor, const VaeTiling& tiling) {
  check_tiling(tiling);
  const int th = std::min(tiling.tile, h), tw = std::min(tiling.tile, w);
  // Image-pixel positions p where a tile starts or ends: the pair (p-1, p) straddles a border.
  auto borders = [&](int n, int len) {
    std::set<int64_t> s;
    for (int st : vae_tile_starts(n, len, tiling.overlap)) {
      if (st > 0) s.insert(int64_t(st) * factor);
      if (st + len < n) s.insert(int64_t(st + len) * factor);
    }
    return s;
  };
  const std::set<int64_t> by = borders(h, th), bx = borders(w, tw);
  const int64_t H = int64_t(h) * factor, W = int64_t(w) * factor;
  std::vector<char> col_border(size_t(W), 0), row_border(size_t(H), 0);
  for (int64_t p : bx) col_border[size_t(p)] = 1;
  for (int64_t p : by) row_border[size_t(p)] = 1;
  double sb = 0, si = 0;
  int64_t nb = 0, ni = 0;
  for (int c = 0; c < C; ++c) {
    const float* im = image + int64_t(c) * H * W;
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x) {
        if (x > 0) {
          const double d = std::fabs(double(im[y * W + x]) - im[y * W + x - 1]);
          if (col_border[size_t(x)]) sb += d, ++nb;
          else si += d, ++ni;
        }
        if (y > 0) {
          const double d = std::fabs(double(im[y * W + x]) - im[(y - 1) * W + x]);
          if (row_border[size_t(y)]) sb += d, ++nb;
          else si += d, ++ni;
        }
      }
  }
  VaeSeamStats st;
  st.border_pairs = nb;
  st.interior_pairs = ni;
  st.border = nb ? sb / nb : 0.0;
  st.interior = ni ? si / ni : 0.0;
  return st;
}

}  // namespace dimba
