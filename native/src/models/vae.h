// The SDXL VAE (diffusers AutoencoderKL), exactly as ../shared/spec/MODEL.md section 6
// specifies: encoder to the posterior (mean, std), decoder from latents, tiled variants for
// large images, and a cheap latent-to-RGB preview. Any AutoencoderKL config of that family
// (levels, channels, groups, layers per block, optional quant convs and mid attention).
//
//   VaeModel vae = VaeModel::load_folder("sdxl-vae/", DType::BF16);  // config.json + weights
//   vae.decode(image, latent, B, h, w);                // image [B,3,8h,8w] in about [-1, 1]
//   vae.encode(mean, std, image, B, H, W);             // posterior [B,4,H/8,W/8]
//   vae_sample_posterior(z, mean, std, n, seed);      // z = mean + std * N(0,1), engine RNG
//   vae_scale_latents(z, n, cfg);                      // what the diffusion model sees
//   vae_unscale_latents(x, n, cfg);                    // back before decode
//
// Public tensors are NCHW (the reference's layout); internally the VAE runs channels-last
// ([H, W, C] per image, see backend/cpu/conv2d.cpp for why). Weights are f32 or bf16, never
// f16: the SDXL VAE's activations overflow f16's range (MODEL.md 6).
//
// Files: vae_config.cpp (config, expected tensor list), vae_weights.cpp (binding, validation,
// both attention namings), vae_blocks.cpp (resnet, attention, mid block), vae.cpp (encoder,
// decoder, scaling helpers), vae_tiling.cpp (tiled encode/decode, seam measure),
// vae_preview.cpp (latent -> 8-bit RGB).
// defines: VaeConfig, VaeConv, VaeNorm, VaeResnetWeights, VaeAttentionWeights, VaeMidWeights,
//          VaeEncoderWeights, VaeDecoderWeights, VaePosterior, VaeModel, VaeTiling, vae_expected_tensors,
//          vae_sample_posterior, vae_scale_latents, vae_unscale_latents, vae_latent_preview_rgb8,
//          VaeSeamStats, vae_seam_stats, vae_random_checkpoint, vae_tile_starts,
//          vae_moments_to_posterior, vae_resnet_forward, vae_attention_forward, vae_mid_forward
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "core/arena.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "io/checkpoint.h"

namespace dimba {

struct VaeConfig {
  int in_channels = 3;
  int out_channels = 3;
  std::vector<int> block_out_channels = {128, 256, 512, 512};  // one per level
  int layers_per_block = 2;
  int norm_num_groups = 32;
  int latent_channels = 4;
  double scaling_factor = 0.13025;
  bool use_quant_conv = true;
  bool use_post_quant_conv = true;
  bool mid_block_add_attention = true;

  // A diffusers AutoencoderKL config.json (vae-tiny.json); unknown keys are ignored, missing
  // ones keep the SDXL defaults. Block types other than DownEncoderBlock2D/UpDecoderBlock2D,
  // an act_fn other than silu, or absurd values throw InvalidArgument (via validate()).
  static VaeConfig from_json(const nlohmann::json& j);
  static VaeConfig sdxl() { return VaeConfig(); }
  void validate() const;

  int levels() const { return int(block_out_channels.size()); }
  int downscale() const { return 1 << (levels() - 1); }  // image pixels per latent pixel
};

// Every tensor a checkpoint for `cfg` holds, with the current diffusers attention naming
// (to_q/to_k/to_v/to_out.0, 2-D weights).
std::vector<std::pair<std::string, std::vector<int64_t>>> vae_expected_tensors(const VaeConfig& cfg);

// A conv (or Linear, k = 1): weight (cout, k, k, cin) in the model's dtype, permuted at load
// from PyTorch's (cout, cin, k, k); bias (cout) f32.
struct VaeConv {
  const void* w = nullptr;  // (cout, k, k, cin)
  DType dtype = DType::F32;
  const float* b = nullptr;  // (cout)
  int cout = 0, cin = 0, k = 0;
};

struct VaeNorm {  // GroupNorm, eps 1e-6, affine
  const float* w = nullptr;  // (C)
  const float* b = nullptr;  // (C)
};

struct VaeResnetWeights {
  VaeNorm norm1;        // (cin)
  VaeConv conv1;        // (cout, 3, 3, cin)
  VaeNorm norm2;        // (cout)
  VaeConv conv2;        // (cout, 3, 3, cout)
  VaeConv shortcut;     // (cout, 1, 1, cin) when cin != cout, else w == nullptr (identity)
};

struct VaeAttentionWeights {  // one head over all C channels
  VaeNorm norm;   // (C)
  VaeConv qkv;    // (3C, 1, 1, C): to_q, to_k, to_v stacked at load so one GEMM makes [q|k|v]
  VaeConv out;    // (C, 1, 1, C): to_out.0
};

struct VaeMidWeights {
  VaeResnetWeights resnet0, resnet1;
  bool has_attention = true;
  VaeAttentionWeights attention;
};

struct VaeEncoderWeights {
  VaeConv conv_in;                                    // (block_out[0], 3, 3, in_channels)
  std::vector<std::vector<VaeResnetWeights>> down;    // [level][layers_per_block]
  std::vector<VaeConv> downsample;                    // [levels-1], 3x3 stride 2
  VaeMidWeights mid;
  VaeNorm norm_out;                                   // (block_out[-1])
  VaeConv conv_out;                                   // (2*latent, 3, 3, block_out[-1])
  VaeConv quant;                                      // (2*latent, 1, 1, 2*latent) or w null
};

struct VaeDecoderWeights {
  VaeConv post_quant;                                 // (latent, 1, 1, latent) or w null
  VaeConv conv_in;                                    // (block_out[-1], 3, 3, latent)
  VaeMidWeights mid;
  std::vector<std::vector<VaeResnetWeights>> up;      // [level][layers_per_block+1], reversed channels
  std::vector<VaeConv> upsample;                      // [levels-1], 3x3 after nearest 2x
  VaeNorm norm_out;                                   // (block_out[0])
  VaeConv conv_out;                                   // (out_channels, 3, 3, block_out[0])
};

// Tiling for large images: tiles of `tile` latent pixels (a square; edge tiles may be
// smaller), neighbours overlapping by `overlap` latent pixels and blended with linear ramps
// across the overlap. Activation memory is that of one tile, whatever the image size.
struct VaeTiling {
  int tile = 64;     // latent pixels per tile side (64 = 512 image pixels for SDXL)
  int overlap = 16;  // latent pixels shared by neighbouring tiles, < tile
  // Run the latent-resolution parts (the decoder's conv_in + mid block, the encoder's mid
  // block + conv_out) on the whole latent instead of per tile: the mid block's attention is
  // global and its GroupNorms see the whole image, so tiles then differ from the untiled
  // result only in the full-resolution blocks. Costs about six [h, w, C_bottom] f32 buffers
  // (32 MB each for a 128x128 SDXL latent) plus the attention's [h*w, 3C]; false bounds
  // memory by the tile alone.
  bool whole_latent_blocks = true;
};

// The posterior of an image batch: both [B, latent, H/f, W/f], f32.
struct VaePosterior {
  Tensor mean;
  Tensor std;
};

class VaeModel {
 public:
  // Binds `ckpt` by diffusers name, either attention naming (to_q/to_k/to_v/to_out.0 or
  // query/key/value/proj_attn, 2-D or conv-shaped [C, C, 1, 1]). weight_dtype F32 or BF16
  // (F16 throws InvalidArgument). Throws ModelMismatch listing EVERY missing, unexpected or
  // mis-shaped tensor.
  static VaeModel load(const Checkpoint& ckpt, const VaeConfig& cfg, DType weight_dtype,
                       const Backend& backend = cpu_backend());
  // A diffusers folder: config.json + diffusion_pytorch_model.{safetensors,bin}
  // (io/load_checkpoint.h finds the weights).
  static VaeModel load_folder(const std::string& dir, DType weight_dtype, const Backend& backend = cpu_backend());

  // Not reentrant (one activation arena per model); runs with FTZ/DAZ on.
  // mean, std [B, latent, H/f, W/f] (f = downscale()) of the posterior for image
  // [B, in_channels, H, W] in [-1, 1]; logvar is clamped to [-30, 20], std = exp(logvar/2).
  // H, W: positive multiples of f (InvalidArgument otherwise).
  void encode(float* mean, float* std, const float* image, int B, int H, int W);
  // image [B, out_channels, h*f, w*f] from latent [B, latent, h, w] (unscaled: divide the
  // diffusion model's latents by scaling_factor first, vae_unscale_latents).
  void decode(float* image, const float* latent, int B, int h, int w);

  // The same, tile by tile (vae_tiling.cpp). A tile covering the whole latent is exact; with
  // several, GroupNorm statistics are per tile and tile edges see zero padding (and, without
  // whole_latent_blocks, the mid block's attention sees one tile), which moves the result by
  // amounts that depend on the content: measured in tests/test_vae.cpp and
  // native/bench/README.md (VAE). No seam: tiles cross-fade over their overlaps.
  void encode_tiled(float* mean, float* std, const float* image, int B, int H, int W, const VaeTiling& tiling);
  void decode_tiled(float* image, const float* latent, int B, int h, int w, const VaeTiling& tiling);

  // Checked Tensor forms of the above (f32 NCHW in, owning f32 NCHW out): a wrong rank,
  // dtype or channel count throws InvalidArgument. tiling null: untiled.
  VaePosterior encode(const Tensor& image, const VaeTiling* tiling = nullptr);
  Tensor decode(const Tensor& latent, const VaeTiling* tiling = nullptr);

  const VaeConfig& config() const { return cfg_; }
  DType weight_dtype() const { return wdtype_; }
  size_t weight_bytes() const { return weight_bytes_; }
  size_t arena_peak_bytes() const { return arena_->peak(); }  // activations, most at once, any call so far

 private:
  // One image, channels-last, in two parts split at the latent resolution (f = downscale()):
  //   encode_down: feat [H/f, W/f, C] (C = block_out[-1]) from x [H, W, in]
  //   encode_head: moments [h, w, 2L] (mean | logvar before clamping) from feat [h, w, C]
  //   decode_trunk: feat [h, w, C] from z [h, w, L] (post_quant_conv, conv_in, mid block)
  //   decode_up: image [h*f, w*f, out] from feat [h, w, C]
  void encode_down_nhwc(float* feat, const float* x, int H, int W);
  void encode_head_nhwc(float* moments, const float* feat, int h, int w);
  void decode_trunk_nhwc(float* feat, const float* z, int h, int w);
  void decode_up_nhwc(float* image, const float* feat, int h, int w);

  VaeConfig cfg_;
  DType wdtype_ = DType::F32;
  const Backend* be_ = nullptr;
  VaeEncoderWeights enc_;
  VaeDecoderWeights dec_;
  size_t weight_bytes_ = 0;
  std::vector<std::shared_ptr<void>> storage_;  // converted and permuted tensors
  std::unique_ptr<Arena> arena_;
  // Where every part's activations start: just after a small first allocation, so that the
  // parts never make the arena's full reset, which would re-size (re-allocate and re-fault)
  // it between the small latent-resolution parts and the large full-resolution ones; its
  // peak then spans every call.
  size_t arena_base_ = 0;
};

// z[i] = mean[i] + std[i] * normal_at(seed, offset + i): a posterior sample with the engine's
// counter-based RNG (core/rng.h), so every backend draws the same z.
void vae_sample_posterior(float* z, const float* mean, const float* std, size_t n, uint64_t seed,
                          uint64_t offset = 0);
// In place: VAE latents -> the diffusion model's latents (x *= scaling_factor) and back
// (x /= scaling_factor) before decoding (MODEL.md 6).
void vae_scale_latents(float* x, size_t n, const VaeConfig& cfg);
void vae_unscale_latents(float* x, size_t n, const VaeConfig& cfg);

// A live preview without the decoder: rgb [h, w, 3] (8-bit, row-major, interleaved) from ONE
// latent [4, h, w] in the diffusion model's (scaled) space, through a fixed 4 -> 3 linear
// map suited to SDXL latents (vae_preview.cpp cites the coefficients).
void vae_latent_preview_rgb8(uint8_t* rgb, const float* latent, int h, int w);

// The seam measure: the mean |difference| of horizontally and vertically adjacent pixels
// whose pair straddles a tile border, and of all other adjacent pairs, over every channel of
// image [C, H, W]. Borders are the image-pixel positions where some tile of `tiling` starts
// or ends (for a latent of h x w and `factor` image pixels per latent pixel).
struct VaeSeamStats {
  double border = 0;    // mean |gradient| across tile borders
  double interior = 0;  // mean |gradient| elsewhere
  int64_t border_pairs = 0, interior_pairs = 0;
};
VaeSeamStats vae_seam_stats(const float* image, int C, int h, int w, int factor, const VaeTiling& tiling);

// The blocks on one channels-last image (vae_blocks.cpp); scratch from `arena`, released
// before returning. out and x must not alias.
void vae_resnet_forward(float* out, const float* x, const VaeResnetWeights& w, int H, int W, int G,
                        const Backend& be, Arena& arena);
void vae_attention_forward(float* out, const float* x, const VaeAttentionWeights& w, int H, int W, int C, int G,
                           const Backend& be, Arena& arena);
// out = resnet1(attention(resnet0(x))); x is used as scratch (overwritten).
void vae_mid_forward(float* out, float* x, const VaeMidWeights& w, int H, int W, int C, int G, const Backend& be,
                     Arena& arena);

// mean, std planes [L, hw] from channels-last moments [hw, 2L] (mean | logvar): logvar
// clamped to [-30, 20], std = exp(logvar / 2) (vae.cpp).
void vae_moments_to_posterior(float* mean, float* std, const float* moments, int L, int64_t hw);

// A random checkpoint for `cfg` with the expected names, stored as `dtype` (F32/BF16/F16;
// vae_random.cpp): for benchmarks and tiling measurements of the SDXL-shaped VAE without its
// real weights.
Checkpoint vae_random_checkpoint(const VaeConfig& cfg, uint64_t seed, DType dtype = DType::F32);

// The tile grid along one axis (vae_tiling.cpp): starts of tiles of `tile` covering [0, n)
// with neighbours overlapping by `overlap` (the last tile is moved back to end at n).
std::vector<int> vae_tile_starts(int n, int tile, int overlap);

}  // namespace dimba
