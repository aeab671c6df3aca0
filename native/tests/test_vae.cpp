// The VAE (MODEL.md section 6) against the float64 reference's golden tensors (vae-tiny):
// posterior mean and std and the decoded image, f32 weights within 1e-4 and bf16 within
// 2e-2; the old attention naming gives identical results; the expected tensor list is the
// real SDXL VAE's; tiled encode/decode stay close to untiled and leave no seam; bad inputs
// give typed errors. The ops it adds (group_norm, conv2d, upsample) are checked against
// naive loops first.
// defines: main (test_vae)
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>
#include <vector>

#include "backend/backend.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "harness.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/vae.h"
#include "verify/golden.h"

using namespace dimba;

static std::vector<float> randn(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  fill_normal(v.data(), n, seed);
  return v;
}

static VaeConfig tiny_config() {
  const std::string p = harness::golden_path("vae-tiny.json");
  return VaeConfig::from_json(parse_json_untrusted(read_text_file(p), p));
}

static Tensor tensor_of(const Checkpoint& ck, const char* key) {
  const TensorEntry* e = ck.find(key);
  CHECK(e != nullptr && e->dtype == DType::F32);
  Tensor t = Tensor::empty(DType::F32, e->shape);
  std::memcpy(t.data, e->data, e->nbytes);
  return t;
}

// ---- ops against naive loops ------------------------------------------------------------------

// conv2d_forward (channels-last, [Cout,k,k,Cin] weights) against a direct sum, for the three
// VAE shapes: 3x3 pad 1, 3x3 stride 2 with right/bottom pad, 1x1; f32 and bf16 weights. With
// bf16 weights the GEMM may also round the activations to bf16 (backend/cpu/gemm.cpp's
// VDPBF16PS path, where the CPU has it): the result must match the direct sum over exactly
// the operands the GEMM uses, with activations rounded or not.
static void conv2d_matches_naive() {
  struct Case { int H, W, Cin, Cout, k, stride, pt, pl, pb, pr; };
  const Case cases[] = {{7, 9, 5, 6, 3, 1, 1, 1, 1, 1}, {8, 10, 4, 3, 3, 2, 0, 0, 1, 1}, {5, 4, 6, 7, 1, 1, 0, 0, 0, 0}};
  for (const Case& c : cases)
    for (DType dt : {DType::F32, DType::BF16}) {
      const int Ho = (c.H + c.pt + c.pb - c.k) / c.stride + 1, Wo = (c.W + c.pl + c.pr - c.k) / c.stride + 1;
      std::vector<float> x = randn(size_t(c.H) * c.W * c.Cin, 1), w = randn(size_t(c.Cout) * c.k * c.k * c.Cin, 2),
                         b = randn(size_t(c.Cout), 3);
      if (dt == DType::BF16)  // the reference sees the same rounded weights
        for (float& v : w) v = bf16_to_f32(f32_to_bf16(v));
      Tensor wt = to_dtype(Tensor::view(w.data(), DType::F32, {int64_t(w.size())}), dt);
      std::vector<float> got(size_t(Ho) * Wo * c.Cout);
      cpu_backend().conv2d_forward(got.data(), x.data(), wt.data, dt, b.data(), 1, c.H, c.W, c.Cin, c.Cout, c.k,
                                   c.stride, c.pt, c.pl, c.pb, c.pr, false);
      double best = 1e9;
      for (int round_x = 0; round_x < (dt == DType::BF16 ? 2 : 1); ++round_x) {
        std::vector<float> xr = x, want(got.size());
        if (round_x)
          for (float& v : xr) v = bf16_to_f32(f32_to_bf16(v));
        for (int oy = 0; oy < Ho; ++oy)
          for (int ox = 0; ox < Wo; ++ox)
            for (int o = 0; o < c.Cout; ++o) {
              double s = b[size_t(o)];
              for (int ky = 0; ky < c.k; ++ky)
                for (int kx = 0; kx < c.k; ++kx)
                  for (int ci = 0; ci < c.Cin; ++ci) {
                    const int iy = oy * c.stride - c.pt + ky, ix = ox * c.stride - c.pl + kx;
                    if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
                    s += double(xr[(size_t(iy) * c.W + ix) * c.Cin + ci]) *
                         w[((size_t(o) * c.k + ky) * c.k + kx) * c.Cin + ci];
                  }
              want[(size_t(oy) * Wo + ox) * c.Cout + o] = float(s);
            }
        best = std::min(best, harness::rel_l2(got.data(), want.data(), got.size()));
      }
      std::printf("    conv k%d s%d %s: rel_l2 %.3e (tol 1e-5)\n", c.k, c.stride, dtype_name(dt), best);
      CHECK(best < 1e-5);
    }
}

static void group_norm_and_upsample_match_naive() {
  const int B = 2, HW = 13, C = 12, G = 3;
  std::vector<float> x = randn(size_t(B) * HW * C, 4), w = randn(C, 5), b = randn(C, 6);
  for (float& v : x) v = 3.0f + 2.0f * v;  // an offset mean, as activations have
  std::vector<float> got(x.size()), want(x.size());
  cpu_backend().group_norm_forward(got.data(), nullptr, nullptr, x.data(), w.data(), b.data(), B, HW, C, G, 1e-6f);
  for (int s = 0; s < B; ++s)
    for (int g = 0; g < G; ++g) {
      double m = 0, v = 0;
      const int cg = C / G;
      for (int p = 0; p < HW; ++p)
        for (int c = g * cg; c < (g + 1) * cg; ++c) m += x[(size_t(s) * HW + p) * C + c];
      m /= HW * cg;
      for (int p = 0; p < HW; ++p)
        for (int c = g * cg; c < (g + 1) * cg; ++c) v += std::pow(x[(size_t(s) * HW + p) * C + c] - m, 2);
      v /= HW * cg;
      for (int p = 0; p < HW; ++p)
        for (int c = g * cg; c < (g + 1) * cg; ++c) {
          const size_t i = (size_t(s) * HW + p) * C + c;
          want[i] = float((x[i] - m) / std::sqrt(v + 1e-6) * w[size_t(c)] + b[size_t(c)]);
        }
    }
  CHECK_REL(got.data(), want.data(), got.size(), 1e-6);

  const int H = 3, W = 2, Cu = 2;
  std::vector<float> u = randn(size_t(H) * W * Cu, 7), up(size_t(4) * H * W * Cu);
  cpu_backend().upsample_nearest_forward(up.data(), u.data(), 1, H, W, Cu, 2);
  bool same = true;
  for (int i = 0; i < 2 * H; ++i)
    for (int j = 0; j < 2 * W; ++j)
      for (int c = 0; c < Cu; ++c) same &= up[(size_t(i) * 2 * W + j) * Cu + c] == u[(size_t(i / 2) * W + j / 2) * Cu + c];
  CHECK(same);
}

// ---- golden ----------------------------------------------------------------------------------

static void check_golden(DType wdtype) {
  VerifyOptions opt;
  opt.weight_dtype = wdtype;
  VerifyReport rep = verify_golden(harness::golden_path(""), "vae-tiny", opt);
  CHECK(rep.kind == "vae");
  CHECK(rep.lines.size() == 3);
  for (const CompareLine& l : rep.lines) {
    std::printf("    %-5s %-14s rel_l2 %.3e (tol %.0e) %s\n", dtype_name(wdtype), l.name.c_str(), l.rel_err, l.tol,
                l.pass() ? "PASS" : "FAIL");
    if (!l.pass()) harness::fail(__FILE__, __LINE__, "vae-tiny " + l.name);
  }
}
static void golden_f32() { check_golden(DType::F32); }
static void golden_bf16() { check_golden(DType::BF16); }

// Old checkpoints: query/key/value/proj_attn, with conv-shaped [C, C, 1, 1] weights.
static void legacy_attention_naming_is_identical() {
  Checkpoint ck = load_safetensors(harness::golden_path("vae-tiny.weights.safetensors"));
  Checkpoint old = ck;
  const std::pair<const char*, const char*> ren[] = {
      {".to_q.", ".query."}, {".to_k.", ".key."}, {".to_v.", ".value."}, {".to_out.0.", ".proj_attn."}};
  int renamed = 0;
  for (const auto& [name, e] : ck.tensors)
    for (const auto& [cur, leg] : ren) {
      const size_t at = name.find(cur);
      if (at == std::string::npos) continue;
      TensorEntry e2 = e;
      if (e2.shape.size() == 2) e2.shape = {e2.shape[0], e2.shape[1], 1, 1};
      old.tensors.erase(name);
      old.tensors[name.substr(0, at) + leg + name.substr(at + std::strlen(cur))] = e2;
      ++renamed;
    }
  CHECK(renamed == 16);
  const VaeConfig cfg = tiny_config();
  VaeModel a = VaeModel::load(ck, cfg, DType::F32), b = VaeModel::load(old, cfg, DType::F32);
  Checkpoint io = load_safetensors(harness::golden_path("vae-tiny.io.safetensors"));
  Tensor img = tensor_of(io, "input.image"), lat = tensor_of(io, "input.latent");
  VaePosterior pa = a.encode(img), pb = b.encode(img);
  Tensor da = a.decode(lat), db = b.decode(lat);
  CHECK(std::memcmp(pa.mean.data, pb.mean.data, pa.mean.nbytes()) == 0);
  CHECK(std::memcmp(pa.std.data, pb.std.data, pa.std.nbytes()) == 0);
  CHECK(std::memcmp(da.data, db.data, da.nbytes()) == 0);

  // Both namings for one tensor is ambiguous, and is reported with the rest.
  old.tensors["encoder.mid_block.attentions.0.to_q.weight"] = ck.tensors["encoder.mid_block.attentions.0.to_q.weight"];
  CHECK_THROWS_CODE(VaeModel::load(old, cfg, DType::F32), ErrorCode::ModelMismatch);
}

// A diffusers folder (config.json + diffusion_pytorch_model.safetensors) loads the same model.
static void loads_a_diffusers_folder() {
  const std::string dir = "/tmp/dimba_test_vae_folder_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(harness::golden_path("vae-tiny.json"), dir + "/config.json",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(harness::golden_path("vae-tiny.weights.safetensors"),
                             dir + "/diffusion_pytorch_model.safetensors",
                             std::filesystem::copy_options::overwrite_existing);
  VaeModel vae = VaeModel::load_folder(dir, DType::F32);
  std::filesystem::remove_all(dir);
  Checkpoint io = load_safetensors(harness::golden_path("vae-tiny.io.safetensors"));
  Tensor dec = vae.decode(tensor_of(io, "input.latent"));
  CHECK_REL(dec.f32(), reinterpret_cast<const float*>(io.find("decode.sample")->data), size_t(dec.numel()), 1e-4);
}

static void mismatch_lists_every_problem() {
  Checkpoint ck = load_safetensors(harness::golden_path("vae-tiny.weights.safetensors"));
  ck.tensors.erase("decoder.up_blocks.1.resnets.2.conv2.bias");
  ck.tensors["encoder.conv_in.weight"].shape = {16, 3, 9, 1};  // same bytes, wrong shape
  ck.tensors["decoder.up_blocks.9.resnets.0.norm1.weight"] = ck.tensors["decoder.conv_norm_out.weight"];
  bool threw = false;
  try {
    VaeModel::load(ck, tiny_config(), DType::F32);
  } catch (const EngineError& e) {
    threw = true;
    const std::string m = e.what();
    CHECK(e.code == ErrorCode::ModelMismatch);
    CHECK(m.find("missing decoder.up_blocks.1.resnets.2.conv2.bias") != std::string::npos);
    CHECK(m.find("mis-shaped encoder.conv_in.weight") != std::string::npos);
    CHECK(m.find("unexpected decoder.up_blocks.9.resnets.0.norm1.weight") != std::string::npos);
    CHECK(m.find("3 problem(s)") != std::string::npos);
  }
  CHECK(threw);
}

// Configs without mid attention or quant convs bind exactly their own tensor lists (a
// checkpoint of the full config then has unexpected tensors), and still run.
static void config_variants_bind() {
  Checkpoint ck = load_safetensors(harness::golden_path("vae-tiny.weights.safetensors"));
  VaeConfig cfg = tiny_config();
  cfg.mid_block_add_attention = false;
  cfg.use_quant_conv = false;
  cfg.use_post_quant_conv = false;
  CHECK_THROWS_CODE(VaeModel::load(ck, cfg, DType::F32), ErrorCode::ModelMismatch);
  Checkpoint cut = ck;
  for (const auto& [name, e] : ck.tensors)
    if (name.find(".attentions.") != std::string::npos || name.find("quant_conv") != std::string::npos)
      cut.tensors.erase(name);
  CHECK(cut.tensors.size() + 20 + 4 == ck.tensors.size());
  VaeModel vae = VaeModel::load(cut, cfg, DType::F32);
  Tensor img = vae.decode(Tensor::zeros(DType::F32, {1, 4, 3, 5}));
  CHECK((img.shape == std::vector<int64_t>{1, 3, 12, 20}));
  VaePosterior p = vae.encode(img);
  CHECK((p.mean.shape == std::vector<int64_t>{1, 4, 3, 5}));
  bool finite = true;
  for (int64_t i = 0; i < p.std.numel(); ++i) finite &= std::isfinite(p.std.f32()[i]) && p.std.f32()[i] > 0;
  CHECK(finite);
}

// The expected tensor list for the SDXL config is exactly the real SDXL VAE's (names and shapes).
static void sdxl_key_list_matches() {
  const std::string p = harness::golden_path("sdxl-vae.keys.json");
  const nlohmann::json keys = parse_json_untrusted(read_text_file(p), p);
  std::set<std::pair<std::string, std::vector<int64_t>>> want, got;
  for (const auto& kv : keys) want.insert({kv[0].get<std::string>(), kv[1].get<std::vector<int64_t>>()});
  for (const auto& e : vae_expected_tensors(VaeConfig::sdxl())) got.insert(e);
  CHECK(want.size() == 248);
  CHECK(got == want);
  for (const auto& e : want)
    if (!got.count(e)) std::printf("    missing from expected: %s\n", e.first.c_str());
  for (const auto& e : got)
    if (!want.count(e)) std::printf("    not in sdxl-vae.keys.json: %s\n", e.first.c_str());
}

// ---- tiling ----------------------------------------------------------------------------------

static VaeModel tiny_vae() {
  return VaeModel::load(load_safetensors(harness::golden_path("vae-tiny.weights.safetensors")), tiny_config(),
                        DType::F32);
}

// Tiled decode of the tiny VAE is close to untiled: per-tile GroupNorm statistics and the
// zero padding at tile edges are the known differences (and, with whole_latent_blocks off,
// the mid block's attention seeing one tile). One tile covering everything is exact.
static void tiled_decode_close() {
  VaeModel vae = tiny_vae();
  const int h = 24, w = 32, f = vae.config().downscale(), L = 4;
  const std::vector<float> z = randn(size_t(L) * h * w, 5);
  std::vector<float> full(size_t(3) * h * f * w * f), tiled(full.size());
  vae.decode(full.data(), z.data(), 1, h, w);
  vae.decode_tiled(tiled.data(), z.data(), 1, h, w, VaeTiling{32, 8, false});
  CHECK(std::memcmp(tiled.data(), full.data(), full.size() * 4) == 0);
  double rel[2];
  for (int whole = 0; whole < 2; ++whole) {
    vae.decode_tiled(tiled.data(), z.data(), 1, h, w, VaeTiling{16, 8, whole == 1});
    rel[whole] = harness::rel_l2(tiled.data(), full.data(), full.size());
    std::printf("    tiny decode 24x32 latent, tile 16 overlap 8, whole_latent_blocks %d: rel_l2 %.3e\n", whole,
                rel[whole]);
  }
  // Bounds: the measurements (9.1e-2 whole, 1.39e-1 tiled) with headroom; a blending bug
  // (weights not summing to 1, a misplaced tile) gives O(1).
  CHECK(rel[1] < 0.15);
  CHECK(rel[0] < 0.2);
  CHECK(rel[1] < rel[0]);
}

// A smooth latent (low-frequency waves plus a little noise) so that the decoded image has
// structure a seam would break.
static std::vector<float> smooth_latent(int C, int h, int w, uint64_t seed) {
  std::vector<float> z = randn(size_t(C) * h * w, seed);
  for (int c = 0; c < C; ++c)
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j)
        z[(size_t(c) * h + i) * w + j] =
            float(std::sin(0.3 * i + c) + std::cos(0.23 * j - c) + 0.2 * z[(size_t(c) * h + i) * w + j]);
  return z;
}

// No seam: the mean |pixel gradient| across tile borders is no larger than inside tiles.
static void tiled_decode_has_no_seam() {
  VaeModel vae = tiny_vae();
  const int h = 24, w = 32, f = vae.config().downscale(), L = 4;
  const std::vector<float> z = smooth_latent(L, h, w, 11);
  std::vector<float> full(size_t(3) * h * f * w * f), tiled(full.size());
  vae.decode(full.data(), z.data(), 1, h, w);
  for (int whole = 0; whole < 2; ++whole) {
    const VaeTiling tiling{12, 4, whole == 1};
    vae.decode_tiled(tiled.data(), z.data(), 1, h, w, tiling);
    const VaeSeamStats st = vae_seam_stats(tiled.data(), 3, h, w, f, tiling);
    const VaeSeamStats su = vae_seam_stats(full.data(), 3, h, w, f, tiling);
    std::printf("    seam, tile 12 overlap 4, whole_latent_blocks %d: border %.4f interior %.4f (%lld/%lld pairs);"
                " untiled: border %.4f interior %.4f; rel_l2 to untiled %.3e\n",
                whole, st.border, st.interior, (long long)st.border_pairs, (long long)st.interior_pairs, su.border,
                su.interior, harness::rel_l2(tiled.data(), full.data(), full.size()));
    CHECK(st.border_pairs > 0);
    CHECK(st.border <= st.interior);
  }
  // The measure does see seams: tiles that abut without overlap show a jump at their borders.
  const VaeTiling hard{8, 0, false};
  vae.decode_tiled(tiled.data(), z.data(), 1, h, w, hard);
  const VaeSeamStats sc = vae_seam_stats(tiled.data(), 3, h, w, f, hard);
  const VaeSeamStats sf = vae_seam_stats(full.data(), 3, h, w, f, hard);
  std::printf("    hard-cut tiles (8, no overlap): border %.4f interior %.4f; untiled at the same borders %.4f\n",
              sc.border, sc.interior, sf.border);
  CHECK(sc.border > sc.interior);
}

// Tiled encode of the tiny VAE is close to untiled (same sources of difference as decode).
static void tiled_encode_close() {
  VaeModel vae = tiny_vae();
  const int f = vae.config().downscale(), H = 24 * f, W = 20 * f;
  std::vector<float> img = randn(size_t(3) * H * W, 12);
  for (float& v : img) v = std::tanh(v);  // in [-1, 1] like an image
  const size_t n = size_t(4) * (H / f) * (W / f);
  std::vector<float> m(n), s(n), mt(n), stt(n);
  vae.encode(m.data(), s.data(), img.data(), 1, H, W);
  double rm[2], rs[2];
  for (int whole = 0; whole < 2; ++whole) {
    vae.encode_tiled(mt.data(), stt.data(), img.data(), 1, H, W, VaeTiling{16, 8, whole == 1});
    rm[whole] = harness::rel_l2(mt.data(), m.data(), n);
    rs[whole] = harness::rel_l2(stt.data(), s.data(), n);
    std::printf("    tiny encode 96x80 image, tile 16 overlap 8 (latent px), whole_latent_blocks %d: mean rel_l2 %.3e,"
                " std rel_l2 %.3e\n", whole, rm[whole], rs[whole]);
  }
  // The measurements (whole: 4.3e-2 / 1.7e-2, tiled: 7.5e-2 / 3.4e-2) with headroom.
  CHECK(rm[1] < 0.08 && rs[1] < 0.03);
  CHECK(rm[0] < 0.12 && rs[0] < 0.06);
  CHECK(rm[1] < rm[0]);
}

static void tile_grid_covers() {
  CHECK((vae_tile_starts(10, 16, 4) == std::vector<int>{0}));
  CHECK((vae_tile_starts(64, 32, 8) == std::vector<int>{0, 24, 32}));
  CHECK((vae_tile_starts(128, 64, 16) == std::vector<int>{0, 48, 64}));
  for (int n = 1; n < 90; ++n) {  // every pixel covered, every tile inside
    std::vector<int> s = vae_tile_starts(n, 16, 5);
    const int len = std::min(16, n);
    CHECK(s.front() == 0 && s.back() + len == n);
    for (size_t i = 1; i < s.size(); ++i) CHECK(s[i] > s[i - 1] && s[i] <= s[i - 1] + len - 5);
  }
}

// ---- helpers and errors ---------------------------------------------------------------------

static void posterior_sample_and_scaling() {
  const size_t n = 37;
  std::vector<float> mean = randn(n, 21), std(n, 0.5f), z(n), z2(n);
  vae_sample_posterior(z.data(), mean.data(), std.data(), n, 1234);
  vae_sample_posterior(z2.data(), mean.data(), std.data(), n, 1234);
  CHECK(std::memcmp(z.data(), z2.data(), n * 4) == 0);  // seeded: reproducible
  for (size_t i = 0; i < n; ++i) CHECK(z[i] == mean[i] + 0.5f * normal_at(1234, i));
  std::vector<float> x = z;
  const VaeConfig cfg = VaeConfig::sdxl();
  vae_scale_latents(x.data(), n, cfg);
  CHECK(std::fabs(x[3] - z[3] * 0.13025f) <= 1e-6f * std::fabs(z[3]));
  vae_unscale_latents(x.data(), n, cfg);
  CHECK_REL(x.data(), z.data(), n, 1e-6);
}

static void preview_rgb() {
  // A zero latent shows the bias: (0.1084 + 1)/2, (-0.0175 + 1)/2, (-0.0011 + 1)/2 of 255.
  const int h = 2, w = 3;
  std::vector<float> lat(size_t(4) * h * w, 0.0f);
  lat[0 * h * w + 5] = 10.0f;  // a strong channel-0 pixel saturates to white-ish
  std::vector<uint8_t> rgb(size_t(h) * w * 3);
  vae_latent_preview_rgb8(rgb.data(), lat.data(), h, w);
  CHECK(rgb[0] == 141 && rgb[1] == 125 && rgb[2] == 127);
  CHECK(rgb[15] == 255 && rgb[16] == 255 && rgb[17] == 255);
}

static void bad_inputs_are_typed_errors() {
  const VaeConfig cfg = tiny_config();
  Checkpoint ck = load_safetensors(harness::golden_path("vae-tiny.weights.safetensors"));
  CHECK_THROWS_CODE(VaeModel::load(ck, cfg, DType::F16), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(VaeModel::load(ck, cfg, DType::I64), ErrorCode::InvalidArgument);
  VaeModel vae = VaeModel::load(ck, cfg, DType::F32);
  const int f = cfg.downscale();
  // Wrong channel count, rank, dtype.
  CHECK_THROWS_CODE(vae.encode(Tensor::zeros(DType::F32, {1, 4, 8 * f, 8 * f})), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(vae.decode(Tensor::zeros(DType::F32, {1, 3, 8, 8})), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(vae.decode(Tensor::zeros(DType::F32, {4, 8, 8})), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(vae.decode(Tensor::zeros(DType::BF16, {1, 4, 8, 8})), ErrorCode::InvalidArgument);
  // Image sides must be multiples of the downscale factor (4 for vae-tiny, 8 for SDXL).
  CHECK_THROWS_CODE(vae.encode(Tensor::zeros(DType::F32, {1, 3, 8 * f + 1, 8 * f})), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(vae.encode(Tensor::zeros(DType::F32, {1, 3, 8 * f, 6})), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(vae.decode(Tensor::zeros(DType::F32, {1, 4, 0, 8})), ErrorCode::InvalidArgument);
  // Tiling: overlap must be below the tile.
  const VaeTiling bad{8, 8};
  CHECK_THROWS_CODE(vae.decode(Tensor::zeros(DType::F32, {1, 4, 16, 16}), &bad), ErrorCode::InvalidArgument);
  // Configs.
  nlohmann::json j = parse_json_untrusted(read_text_file(harness::golden_path("vae-tiny.json")), "vae-tiny.json");
  j["norm_num_groups"] = 5;  // 16 channels do not split into 5 groups
  CHECK_THROWS_CODE(VaeConfig::from_json(j), ErrorCode::InvalidArgument);
  j["norm_num_groups"] = 8;
  j["up_block_types"][0] = "AttnUpDecoderBlock2D";
  CHECK_THROWS_CODE(VaeConfig::from_json(j), ErrorCode::InvalidArgument);
}

int main() {
  RUN(conv2d_matches_naive);
  RUN(group_norm_and_upsample_match_naive);
  RUN(golden_f32);
  RUN(golden_bf16);
  RUN(legacy_attention_naming_is_identical);
  RUN(loads_a_diffusers_folder);
  RUN(mismatch_lists_every_problem);
  RUN(config_variants_bind);
  RUN(sdxl_key_list_matches);
  RUN(tile_grid_covers);
  RUN(tiled_decode_close);
  RUN(tiled_decode_has_no_seam);
  RUN(tiled_encode_close);
  RUN(posterior_sample_and_scaling);
  RUN(preview_rgb);
  RUN(bad_inputs_are_typed_errors);
  return harness::summary();
}
