// The VAE's building blocks on one channels-last image [H, W, C] (MODEL.md section 6):
//   resnet(x)    = shortcut(x) + conv2(SiLU(norm2(conv1(SiLU(norm1(x))))))
//   attention(x) = x + to_out(softmax(q k^T / sqrt(C)) v), q|k|v = to_qkv(group_norm(x)),
//                  one head over all C channels and all H*W positions
//   mid(x)       = resnet1(attention(resnet0(x)))
// Channels-last makes [H*W, C] the attention's token matrix with no transpose. Scratch comes
// from the arena and is released before each function returns.
// defines: vae_resnet_forward, vae_attention_forward, vae_mid_forward
#include "models/vae.h"

namespace dimba {
namespace {

constexpr float kEps = 1e-6f;  // every GroupNorm of the SDXL VAE (MODEL.md 6)

void conv3x3(const Backend& be, float* out, const float* x, const VaeConv& c, int H, int W, bool accumulate) {
  be.conv2d_forward(out, x, c.w, c.dtype, c.b, 1, H, W, c.cin, c.cout, 3, 1, 1, 1, 1, 1, accumulate);
}
void conv1x1(const Backend& be, float* out, const float* x, const VaeConv& c, int64_t HW, bool accumulate) {
  be.linear_forward(out, x, c.w, c.dtype, c.b, int(HW), c.cin, c.cout, accumulate);
}

}  // namespace

void vae_resnet_forward(float* out, const float* x, const VaeResnetWeights& w, int H, int W, int G,
                        const Backend& be, Arena& arena) {
  const int cin = w.conv1.cin, cout = w.conv1.cout;
  const int64_t HW = int64_t(H) * W;
  const size_t m0 = arena.mark();
  float* t = arena.alloc_f32(size_t(HW) * cin);   // (H, W, cin)  SiLU(norm1(x))
  float* h = arena.alloc_f32(size_t(HW) * cout);  // (H, W, cout) conv1, then SiLU(norm2(.)) in place
  be.group_norm_forward(t, nullptr, nullptr, x, w.norm1.w, w.norm1.b, 1, HW, cin, G, kEps);
  be.silu_forward(t, t, HW * cin);
  conv3x3(be, h, t, w.conv1, H, W, false);
  be.group_norm_forward(h, nullptr, nullptr, h, w.norm2.w, w.norm2.b, 1, HW, cout, G, kEps);
  be.silu_forward(h, h, HW * cout);
  // out = shortcut(x), then conv2 accumulates onto it: the residual add costs no extra pass.
  if (w.shortcut.w)
    conv1x1(be, out, x, w.shortcut, HW, false);
  else
    be.copy_rows_forward(out, x, HW, cin, cin, cin);
  conv3x3(be, out, h, w.conv2, H, W, true);
  arena.reset(m0);
}

void vae_attention_forward(float* out, const float* x, const VaeAttentionWeights& w, int H, int W, int C, int G,
                           const Backend& be, Arena& arena) {
  const int64_t N = int64_t(H) * W;
  const size_t m0 = arena.mark();
  float* t = arena.alloc_f32(size_t(N) * C);        // (N, C) group_norm(x), later the attention output
  float* qkv = arena.alloc_f32(size_t(N) * 3 * C);  // (N, 3C) = [q | k | v]
  be.group_norm_forward(t, nullptr, nullptr, x, w.norm.w, w.norm.b, 1, N, C, G, kEps);
  conv1x1(be, qkv, t, w.qkv, N, false);
  be.attention_forward(t, qkv, qkv + C, qkv + 2 * C, nullptr, 1, int(N), int(N), 1, C, 3 * C, 3 * C, C);
  be.copy_rows_forward(out, x, N, C, C, C);
  conv1x1(be, out, t, w.out, N, true);  // out = x + to_out(a)
  arena.reset(m0);
}

void vae_mid_forward(float* out, float* x, const VaeMidWeights& w, int H, int W, int C, int G, const Backend& be,
                     Arena& arena) {
  vae_resnet_forward(out, x, w.resnet0, H, W, G, be, arena);
  if (w.has_attention)
    vae_attention_forward(x, out, w.attention, H, W, C, G, be, arena);
  else
    be.copy_rows_forward(x, out, int64_t(H) * W, C, C, C);
  vae_resnet_forward(out, x, w.resnet1, H, W, G, be, arena);
}

}  // namespace dimba
