// AutoencoderKL encoder and decoder (MODEL.md section 6) on one channels-last image at a time,
// the public NCHW entry points around them, and the latent scaling helpers.
//
// Each network is run in two parts split at the latent resolution: the encoder's down path
// (full resolution, most of the work) and its head (mid block with its global attention,
// norm, conv_out, quant_conv); the decoder's trunk (post_quant_conv, conv_in, mid block) and
// its up path. Tiling (vae_tiling.cpp) tiles the full-resolution parts and may run the
// latent-resolution parts whole.
//
// Activation memory: two ping-pong buffers sized for the largest activation of the part
// (block outputs alternate between them) plus each block's own scratch from the arena, so the
// peak is about four of the largest [H, W, C] activations whatever the depth. That is what
// tiling bounds: the largest activation of a tile instead of the whole image.
//
// The parts take and return host memory on every backend: off the host (backend_io.h) their
// input is uploaded into the arena and their output downloaded, so tiling and the NCHW
// entry points stay host code.
// defines: VaeModel::encode, VaeModel::decode, VaeModel::encode_down_nhwc,
//          VaeModel::encode_head_nhwc, VaeModel::decode_trunk_nhwc, VaeModel::decode_up_nhwc, vae_sample_posterior, vae_scale_latents, vae_unscale_latents
#include <algorithm>
#include <cmath>
#include <utility>

#include "core/error.h"
#include "core/fpenv.h"
#include "core/rng.h"
#include "models/backend_io.h"
#include "models/vae.h"

namespace dimba {
namespace {

constexpr float kEps = 1e-6f;

// [C, H, W] <-> [H, W, C] for one image.
void nchw_to_nhwc(float* out, const float* in, int C, int64_t HW) {
  for (int c = 0; c < C; ++c)
    for (int64_t p = 0; p < HW; ++p) out[p * C + c] = in[c * HW + p];
}
void nhwc_to_nchw(float* out, const float* in, int C, int64_t HW) {
  for (int c = 0; c < C; ++c)
    for (int64_t p = 0; p < HW; ++p) out[c * HW + p] = in[p * C + c];
}

void conv3x3(const Backend& be, float* out, const float* x, const VaeConv& c, int H, int W) {
  be.conv2d_forward(out, x, c.w, c.dtype, c.b, 1, H, W, c.cin, c.cout, 3, 1, 1, 1, 1, 1, false);
}

}  // namespace

void VaeModel::encode_down_nhwc(float* feat, const float* x, int H, int W) {
  ScopedFlushDenormals ftz;
  const Backend& be = *be_;
  const auto& ch = cfg_.block_out_channels;
  const int n = cfg_.levels(), G = cfg_.norm_num_groups;
  // The largest activation: level i runs at (H >> i) x (W >> i) with ch[i] channels (its first
  // resnet reads ch[i-1] channels at that size, which level i-1 already held at 4x the pixels).
  size_t maxact = 0;
  for (int i = 0; i < n; ++i) maxact = std::max(maxact, size_t(H >> i) * size_t(W >> i) * size_t(ch[size_t(i)]));
  Arena& arena = *arena_;
  arena.reset(arena_base_);
  const size_t n_feat = size_t(H >> (n - 1)) * size_t(W >> (n - 1)) * size_t(ch.back());
  float* feat_d = output_buffer(be, arena, feat, n_feat);                      // (H/f, W/f, C)
  const float* x_d = stage_in(be, arena, x, size_t(H) * W * cfg_.in_channels);  // (H, W, in)
  float* cur = arena.alloc_f32(maxact);
  float* nxt = arena.alloc_f32(maxact);

  int h = H, w = W;
  conv3x3(be, cur, x_d, enc_.conv_in, h, w);
  for (int i = 0; i < n; ++i) {
    const auto& rs = enc_.down[size_t(i)];
    for (size_t r = 0; r < rs.size(); ++r) {
      // The level's last block writes straight into feat at the bottom level.
      const bool last = i == n - 1 && r + 1 == rs.size();
      vae_resnet_forward(last ? feat_d : nxt, cur, rs[r], h, w, G, be, arena);
      std::swap(cur, nxt);
    }
    if (i < n - 1) {  // Downsample2D: pad right and bottom by one zero, 3x3 stride 2, no other padding
      const VaeConv& c = enc_.downsample[size_t(i)];
      be.conv2d_forward(nxt, cur, c.w, c.dtype, c.b, 1, h, w, c.cin, c.cout, 3, 2, 0, 0, 1, 1, false);
      h = (h + 1 - 3) / 2 + 1;
      w = (w + 1 - 3) / 2 + 1;
      std::swap(cur, nxt);
    }
  }
  stage_out(be, feat, feat_d, n_feat);
  arena.reset(arena_base_);
}

void VaeModel::encode_head_nhwc(float* moments, const float* feat, int h, int w) {
  ScopedFlushDenormals ftz;
  const Backend& be = *be_;
  const int C = cfg_.block_out_channels.back(), G = cfg_.norm_num_groups, L2 = 2 * cfg_.latent_channels;
  const int64_t hw = int64_t(h) * w;
  Arena& arena = *arena_;
  arena.reset(arena_base_);
  float* mom_d = output_buffer(be, arena, moments, size_t(hw) * L2);  // (h, w, 2L)
  float* cur = arena.alloc_f32(size_t(hw) * C);  // (h, w, C)
  float* nxt = arena.alloc_f32(size_t(hw) * C);  // (h, w, C)
  be.upload(cur, feat, size_t(hw) * C * sizeof(float));
  vae_mid_forward(nxt, cur, enc_.mid, h, w, C, G, be, arena);
  be.group_norm_forward(cur, nullptr, nullptr, nxt, enc_.norm_out.w, enc_.norm_out.b, 1, hw, C, G, kEps);
  be.silu_forward(cur, cur, hw * C);
  if (enc_.quant.w) {
    float* t = arena.alloc_f32(size_t(hw) * L2);  // (h, w, 2L) before quant_conv
    conv3x3(be, t, cur, enc_.conv_out, h, w);
    be.linear_forward(mom_d, t, enc_.quant.w, enc_.quant.dtype, enc_.quant.b, int(hw), L2, L2, false);
  } else {
    conv3x3(be, mom_d, cur, enc_.conv_out, h, w);
  }
  stage_out(be, moments, mom_d, size_t(hw) * L2);
  arena.reset(arena_base_);
}

void VaeModel::decode_trunk_nhwc(float* feat, const float* z, int h, int w) {
  ScopedFlushDenormals ftz;
  const Backend& be = *be_;
  const int C = cfg_.block_out_channels.back(), G = cfg_.norm_num_groups, L = cfg_.latent_channels;
  Arena& arena = *arena_;
  arena.reset(arena_base_);
  float* feat_d = output_buffer(be, arena, feat, size_t(h) * w * C);  // (h, w, C)
  z = stage_in(be, arena, z, size_t(h) * w * L);                      // (h, w, L)
  float* cur = arena.alloc_f32(size_t(h) * w * C);  // (h, w, C)
  if (dec_.post_quant.w) {
    float* t = arena.alloc_f32(size_t(h) * w * L);  // (h, w, L) after post_quant_conv
    be.linear_forward(t, z, dec_.post_quant.w, dec_.post_quant.dtype, dec_.post_quant.b, h * w, L, L, false);
    conv3x3(be, cur, t, dec_.conv_in, h, w);
  } else {
    conv3x3(be, cur, z, dec_.conv_in, h, w);
  }
  vae_mid_forward(feat_d, cur, dec_.mid, h, w, C, G, be, arena);
  stage_out(be, feat, feat_d, size_t(h) * w * C);
  arena.reset(arena_base_);
}

void VaeModel::decode_up_nhwc(float* image, const float* feat, int h, int w) {
  ScopedFlushDenormals ftz;
  const Backend& be = *be_;
  const auto& ch = cfg_.block_out_channels;
  const int n = cfg_.levels(), G = cfg_.norm_num_groups;
  // Up level i runs at (h << i) x (w << i); its first resnet reads the previous level's
  // channels there, and its upsampler writes its own channels at twice the size.
  size_t maxact = 0;
  int cprev = ch[size_t(n - 1)];
  for (int i = 0; i < n; ++i) {
    const size_t px = size_t(h << i) * size_t(w << i);
    const int co = ch[size_t(n - 1 - i)];
    maxact = std::max(maxact, px * size_t(std::max(cprev, co)));
    if (i < n - 1) maxact = std::max(maxact, 4 * px * size_t(co));
    cprev = co;
  }
  Arena& arena = *arena_;
  arena.reset(arena_base_);
  const size_t n_image = size_t(h << (n - 1)) * size_t(w << (n - 1)) * size_t(cfg_.out_channels);
  float* image_d = output_buffer(be, arena, image, n_image);  // (h*f, w*f, out)
  float* cur = arena.alloc_f32(maxact);
  float* nxt = arena.alloc_f32(maxact);
  int H = h, W = w, C = ch[size_t(n - 1)];
  be.upload(cur, feat, size_t(h) * w * C * sizeof(float));
  for (int i = 0; i < n; ++i) {
    for (const VaeResnetWeights& r : dec_.up[size_t(i)]) {
      vae_resnet_forward(nxt, cur, r, H, W, G, be, arena);
      std::swap(cur, nxt);
    }
    C = ch[size_t(n - 1 - i)];
    if (i < n - 1) {  // Upsample2D: nearest 2x, then a 3x3 conv
      be.upsample_nearest_forward(nxt, cur, 1, H, W, C, 2);
      H *= 2;
      W *= 2;
      conv3x3(be, cur, nxt, dec_.upsample[size_t(i)], H, W);
    }
  }
  const int64_t HW = int64_t(H) * W;
  be.group_norm_forward(nxt, nullptr, nullptr, cur, dec_.norm_out.w, dec_.norm_out.b, 1, HW, C, G, kEps);
  be.silu_forward(nxt, nxt, HW * C);
  conv3x3(be, image_d, nxt, dec_.conv_out, H, W);
  stage_out(be, image, image_d, n_image);
  arena.reset(arena_base_);
}

namespace {

void check_image(const VaeConfig& cfg, int B, int H, int W) {
  const int f = cfg.downscale();
  if (B < 1 || H < 1 || W < 1 || H % f != 0 || W % f != 0)
    throw EngineError(ErrorCode::InvalidArgument,
                      "VAE encode: image " + std::to_string(H) + "x" + std::to_string(W) + " (batch " +
                          std::to_string(B) + ") must be a positive multiple of " + std::to_string(f) +
                          " on each side");
}
void check_latent(int B, int h, int w) {
  if (B < 1 || h < 1 || w < 1)
    throw EngineError(ErrorCode::InvalidArgument, "VAE decode: latent " + std::to_string(h) + "x" +
                                                      std::to_string(w) + " (batch " + std::to_string(B) +
                                                      ") must be non-empty");
}

}  // namespace

// Moments [h, w, 2L] -> mean, std planes [L, h, w]: logvar clamped to [-30, 20] as diffusers'
// DiagonalGaussianDistribution does, std = exp(logvar / 2).
void vae_moments_to_posterior(float* mean, float* std, const float* moments, int L, int64_t hw) {
  for (int64_t p = 0; p < hw; ++p)
    for (int c = 0; c < L; ++c) {
      mean[c * hw + p] = moments[p * 2 * L + c];
      const float lv = std::min(20.0f, std::max(-30.0f, moments[p * 2 * L + L + c]));
      std[c * hw + p] = std::exp(0.5f * lv);
    }
}

void VaeModel::encode(float* mean, float* std, const float* image, int B, int H, int W) {
  check_image(cfg_, B, H, W);
  const int f = cfg_.downscale(), Cin = cfg_.in_channels, L = cfg_.latent_channels;
  const int64_t HW = int64_t(H) * W, hw = HW / (int64_t(f) * f);
  std::vector<float> x(size_t(HW) * Cin), moments(size_t(hw) * 2 * L);
  std::vector<float> feat(size_t(hw) * cfg_.block_out_channels.back());
  for (int b = 0; b < B; ++b) {
    nchw_to_nhwc(x.data(), image + b * HW * Cin, Cin, HW);
    encode_down_nhwc(feat.data(), x.data(), H, W);
    encode_head_nhwc(moments.data(), feat.data(), H / f, W / f);
    vae_moments_to_posterior(mean + b * hw * L, std + b * hw * L, moments.data(), L, hw);
  }
}

void VaeModel::decode(float* image, const float* latent, int B, int h, int w) {
  check_latent(B, h, w);
  const int f = cfg_.downscale(), L = cfg_.latent_channels, Co = cfg_.out_channels;
  const int64_t hw = int64_t(h) * w, HW = hw * f * f;
  std::vector<float> z(size_t(hw) * L), out(size_t(HW) * Co);
  std::vector<float> feat(size_t(hw) * cfg_.block_out_channels.back());
  for (int b = 0; b < B; ++b) {
    nchw_to_nhwc(z.data(), latent + b * hw * L, L, hw);
    decode_trunk_nhwc(feat.data(), z.data(), h, w);
    decode_up_nhwc(out.data(), feat.data(), h, w);
    nhwc_to_nchw(image + b * HW * Co, out.data(), Co, HW);
  }
}

namespace {

void check_tensor(const Tensor& t, int channels, const char* what) {
  if (t.dtype != DType::F32 || t.ndim() != 4 || t.dim(1) != channels || t.dim(0) > (1 << 20) ||
      t.dim(2) > (1 << 20) || t.dim(3) > (1 << 20))
    throw EngineError(ErrorCode::InvalidArgument, std::string("VAE ") + what + ": expected F32 [B, " +
                                                      std::to_string(channels) + ", H, W], got " +
                                                      dtype_name(t.dtype) + " " + shape_str(t.shape));
}

}  // namespace

VaePosterior VaeModel::encode(const Tensor& image, const VaeTiling* tiling) {
  check_tensor(image, cfg_.in_channels, "encode");
  const int B = int(image.dim(0)), H = int(image.dim(2)), W = int(image.dim(3)), f = cfg_.downscale();
  check_image(cfg_, B, H, W);
  VaePosterior p{Tensor::empty(DType::F32, {B, cfg_.latent_channels, H / f, W / f}),
                 Tensor::empty(DType::F32, {B, cfg_.latent_channels, H / f, W / f})};
  if (tiling)
    encode_tiled(p.mean.f32(), p.std.f32(), image.f32(), B, H, W, *tiling);
  else
    encode(p.mean.f32(), p.std.f32(), image.f32(), B, H, W);
  return p;
}

Tensor VaeModel::decode(const Tensor& latent, const VaeTiling* tiling) {
  check_tensor(latent, cfg_.latent_channels, "decode");
  const int B = int(latent.dim(0)), h = int(latent.dim(2)), w = int(latent.dim(3)), f = cfg_.downscale();
  check_latent(B, h, w);
  Tensor out = Tensor::empty(DType::F32, {B, cfg_.out_channels, int64_t(h) * f, int64_t(w) * f});
  if (tiling)
    decode_tiled(out.f32(), latent.f32(), B, h, w, *tiling);
  else
    decode(out.f32(), latent.f32(), B, h, w);
  return out;
}

void vae_sample_posterior(float* z, const float* mean, const float* std, size_t n, uint64_t seed, uint64_t offset) {
  fill_normal(z, n, seed, offset);
  for (size_t i = 0; i < n; ++i) z[i] = mean[i] + std[i] * z[i];
}

void vae_scale_latents(float* x, size_t n, const VaeConfig& cfg) {
  const float s = float(cfg.scaling_factor);
  for (size_t i = 0; i < n; ++i) x[i] *= s;
}

void vae_unscale_latents(float* x, size_t n, const VaeConfig& cfg) {
  // Divide (not multiply by 1/s): the reference pipeline divides, and x / s is exact where
  // x * (1/s) may differ in the last bit.
  const float s = float(cfg.scaling_factor);
  for (size_t i = 0; i < n; ++i) x[i] /= s;
}

}  // namespace dimba
