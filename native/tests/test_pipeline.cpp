// The text-to-image pipeline on random tiny parts written to a temp folder with a manifest
// (a T5 whose d_model is the tiny Dimba's caption_channels, a 4-level VAE with 4 latent
// channels, the golden tiny SentencePiece model): the model times it calls are the sampler's,
// guidance runs one call on [uncond; cond] with the reference's mask rule, the same recipe
// gives the same pixels, image k of a count is the count-1 image of seed + k, cancellation
// stops before the next model call, previews arrive every k steps, bad recipes and
// manifests are refused with codes naming the field, and T5 moves to the CPU where the
// device has no room for it.
// defines: main (test_pipeline)
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "backend/select.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "harness.h"
#include "io/safetensors.h"
#include "models/dimba.h"
#include "models/t5_encoder.h"
#include "models/vae.h"
#include "pipeline/manifest.h"
#include "pipeline/text_to_image.h"
#include "text/tokenizer.h"

using namespace dimba;

namespace {

constexpr int kCaption = 32;  // T5 d_model == Dimba caption_channels
constexpr int kMaxLen = 16;   // Dimba model_max_length == T5 max_length

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw EngineError(ErrorCode::Io, "cannot write " + path);
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Random f32 tensors for `expected`, scaled so activations stay O(1): matrices N(0, 1/fan_in),
// norm weights 1 + small, Mamba's A_log = log(1..Ns) and D = 1 as its own init, else small.
void write_random(const std::string& path, const std::vector<std::pair<std::string, std::vector<int64_t>>>& expected,
                  uint64_t seed) {
  std::vector<std::vector<float>> keep;
  std::map<std::string, TensorToSave> out;
  uint64_t offset = 0;
  for (const auto& [name, shape] : expected) {
    const size_t n = size_t(shape_numel(shape));
    std::vector<float> v(n);
    fill_normal(v.data(), n, seed, offset);
    offset += n;
    if (ends_with(name, "A_log") || ends_with(name, "A_b_log")) {
      for (size_t i = 0; i < n; ++i) v[i] = std::log(float(i % size_t(shape.back()) + 1));
    } else if (ends_with(name, ".D") || ends_with(name, ".D_b")) {
      for (auto& x : v) x = 1.0f;
    } else if (name.find("norm") != std::string::npos && ends_with(name, ".weight") && shape.size() == 1) {
      for (auto& x : v) x = 1.0f + 0.1f * x;
    } else if (shape.size() >= 2) {
      const float fan_in = float(n / size_t(shape[0]));
      for (auto& x : v) x /= std::sqrt(fan_in);
    } else {
      for (auto& x : v) x *= 0.05f;
    }
    keep.push_back(std::move(v));
    out[name] = TensorToSave{DType::F32, shape, keep.back().data()};
  }
  save_safetensors(path, out);
}

struct TinyModel {
  std::string dir, manifest;
};

DimbaConfig tiny_dimba_config() {
  DimbaConfig c;
  c.depth = 2;
  c.hidden_size = 32;
  c.num_heads = 4;
  c.patch_size = 2;
  c.in_channels = 4;
  c.out_channels = 8;
  c.caption_channels = kCaption;
  c.model_max_length = kMaxLen;
  c.input_size = 8;
  c.dt_rank = 2;
  c.validate();
  return c;
}

// Written once per test run into a fresh temp folder (or `keep_dir`, see main).
std::string keep_dir;

const TinyModel& tiny_model() {
  static const TinyModel m = [] {
    char tmpl[] = "/tmp/test_pipeline_XXXXXX";
    const char* d = keep_dir.empty() ? ::mkdtemp(tmpl) : keep_dir.c_str();
    if (!d) throw EngineError(ErrorCode::Io, "mkdtemp failed");
    TinyModel tm;
    tm.dir = d;
    ::mkdir(d, 0755);
    ::mkdir((tm.dir + "/t5").c_str(), 0755);
    ::mkdir((tm.dir + "/vae").c_str(), 0755);

    T5Config t5;
    t5.vocab_size = 1000;
    t5.d_model = kCaption;
    t5.d_kv = 8;
    t5.num_heads = 4;
    t5.d_ff = 48;
    t5.num_layers = 2;
    write_text(tm.dir + "/t5/config.json",
               R"({"model_type": "t5", "feed_forward_proj": "gated-gelu", "vocab_size": 1000, "d_model": 32,
                   "d_kv": 8, "num_heads": 4, "d_ff": 48, "num_layers": 2, "layer_norm_epsilon": 1e-6,
                   "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128})");
    write_random(tm.dir + "/t5/model.safetensors", t5_expected_tensors(t5), 11);

    const std::string vae_json =
        R"({"in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 1, "norm_num_groups": 4,
            "block_out_channels": [8, 8, 16, 16], "scaling_factor": 0.13025,
            "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
            "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]})";
    write_text(tm.dir + "/vae/config.json", vae_json);
    VaeConfig vc = VaeConfig::from_json(nlohmann::json::parse(vae_json));
    write_random(tm.dir + "/vae/diffusion_pytorch_model.safetensors", vae_expected_tensors(vc), 12);

    write_random(tm.dir + "/dimba.safetensors", dimba_expected_tensors(tiny_dimba_config()), 13);
    tm.manifest = tm.dir + "/tiny.manifest.json";
    write_text(tm.manifest, std::string(R"({
      "format": "dimba-model-manifest", "version": 1, "id": "tiny", "name": "Tiny test model",
      "resolution": 64,
      "dimba": {"config": {"depth": 2, "hidden_size": 32, "num_heads": 4, "patch_size": 2, "in_channels": 4,
                           "out_channels": 8, "caption_channels": 32, "model_max_length": 16, "input_size": 8,
                           "pe_interpolation": 1.0, "dt_rank": 2},
                "weights": "dimba.safetensors"},
      "text_encoder": {"folder": "t5", "tokenizer": ")") + harness::golden_path("tiny-spiece.model") + R"("},
      "vae": {"folder": "vae"},
      "defaults": {"steps": 6, "guidance": 4.5, "sampler": "dpm++2m", "width": 64, "height": 32}
    })");
    return tm;
  }();
  return m;
}

Pipeline& pipeline() {
  static Pipeline p = Pipeline::load(load_manifest(tiny_model().manifest), PipelineOptions{DType::F32});
  return p;
}

Recipe base_recipe() {
  Recipe r;
  r.prompt = "a red circle on a blue square";
  r.seed = 42;
  r.steps = 6;
  r.guidance = 4.5;
  r.width = 64;  // latent 8 x 4: non-square on purpose
  r.height = 32;
  return r;
}

std::string message_of(const std::function<void()>& fn, ErrorCode* code) {
  try {
    fn();
  } catch (const EngineError& e) {
    *code = e.code;
    return e.what();
  }
  return "";
}

}  // namespace

// Every sampler: the model times of the pipeline's calls are exactly sampler_model_times.
static void model_times_are_the_samplers() {
  for (const char* name : {"dpm++2m", "ddim", "euler"}) {
    for (int steps : {1, 2, 7}) {
      Recipe r = base_recipe();
      r.sampler = name;
      r.steps = steps;
      std::vector<double> seen;
      GenerateHooks h;
      h.on_model_call = [&](const ModelCallInfo& mc) { seen.push_back(mc.t_input); };
      GenerateResult res = pipeline().generate(r, h);
      std::vector<double> want = sampler_model_times(parse_sampler_kind(name), DiscreteVpSchedule::dimba(), steps);
      CHECK(seen == want);
      CHECK(res.images.size() == 1 && res.images[0].rgb.size() == size_t(64 * 32 * 3));
    }
  }
}

// One call per step on [uncond; cond]: both halves see the same latent; the unconditional half
// is the empty string's encoding under the PROMPT's mask (MODEL.md 2.6); with a negative
// prompt, the negative's encoding under its own mask.
static void guidance_batch_and_masks() {
  const TinyModel& tm = tiny_model();
  Tokenizer tok = Tokenizer::load(harness::golden_path("tiny-spiece.model"));
  T5Encoder t5 = T5Encoder::load_pretrained(tm.dir + "/t5", T5WeightFormat::F32);
  auto encode = [&](const std::string& text, int* len) {
    T5Tokens tk = tok.encode_t5(text, kMaxLen);
    std::vector<float> y(size_t(kMaxLen) * kCaption);
    t5.forward(y.data(), tk.ids.data(), tk.mask.data(), 1, kMaxLen);
    *len = 0;
    for (int32_t m : tk.mask) *len += m;
    return y;
  };
  Recipe r = base_recipe();
  int prompt_len = 0, null_len = 0, neg_len = 0;
  const std::vector<float> y_cond = encode(r.prompt, &prompt_len), y_null = encode("", &null_len);
  CHECK(prompt_len > 2 && null_len == 1);
  const size_t LD = size_t(kMaxLen) * kCaption;

  for (int with_negative = 0; with_negative < 2; ++with_negative) {
    r.negative_prompt = with_negative ? "blurry" : "";
    const std::vector<float> y_uncond = with_negative ? encode(r.negative_prompt, &neg_len) : y_null;
    if (with_negative) CHECK(neg_len != prompt_len);
    int calls = 0;
    bool ok_batch = true, ok_x = true, ok_y = true, ok_lens = true;
    GenerateHooks h;
    h.on_model_call = [&](const ModelCallInfo& mc) {
      ++calls;
      ok_batch = ok_batch && mc.batch == 2 && mc.L == kMaxLen && mc.caption_channels == kCaption;
      const size_t n = size_t(4) * size_t(mc.h) * size_t(mc.w);
      ok_x = ok_x && std::memcmp(mc.x, mc.x + n, n * sizeof(float)) == 0;
      ok_y = ok_y && std::memcmp(mc.y, y_uncond.data(), LD * sizeof(float)) == 0 &&
             std::memcmp(mc.y + LD, y_cond.data(), LD * sizeof(float)) == 0;
      const int want_uncond = with_negative ? neg_len : prompt_len;
      ok_lens = ok_lens && mc.y_lens[0] == want_uncond && mc.y_lens[1] == prompt_len;
    };
    pipeline().generate(r, h);
    CHECK(calls == r.steps);
    CHECK(ok_batch);
    CHECK(ok_x);
    CHECK(ok_y);
    CHECK(ok_lens);
  }
}

// The same recipe twice: the same bytes; another seed: other bytes; pixels use the range.
static void same_recipe_same_pixels() {
  Recipe r = base_recipe();
  r.negative_prompt = "low quality";
  GenerateResult a = pipeline().generate(r), b = pipeline().generate(r);
  CHECK(a.images.size() == 1 && b.images.size() == 1);
  CHECK(a.images[0].rgb == b.images[0].rgb);
  CHECK(a.images[0].seed == 42 && a.images[0].width == 64 && a.images[0].height == 32);
  r.seed = 43;
  GenerateResult c = pipeline().generate(r);
  CHECK(c.images[0].rgb != a.images[0].rgb);
  int lo = 255, hi = 0;
  for (uint8_t v : a.images[0].rgb) lo = std::min(lo, int(v)), hi = std::max(hi, int(v));
  std::printf("    pixel range [%d, %d]\n", lo, hi);
  CHECK(hi > lo);
}

// count N: seeds seed..seed+N-1, image k equal to the count-1 run with seed + k.
static void count_uses_consecutive_seeds() {
  Recipe r = base_recipe();
  r.count = 3;
  r.seed = 1000;
  r.steps = 3;
  GenerateResult all = pipeline().generate(r);
  CHECK(all.images.size() == 3);
  for (int k = 0; k < 3 && k < int(all.images.size()); ++k) {
    Recipe one = r;
    one.count = 1;
    one.seed = r.seed + uint64_t(k);
    GenerateResult single = pipeline().generate(one);
    CHECK(all.images[size_t(k)].seed == one.seed);
    CHECK(all.images[size_t(k)].rgb == single.images[0].rgb);
  }
  CHECK(all.images[0].rgb != all.images[1].rgb);
}

// A cancel during step 3 (by the progress callback's answer, or by the flag another thread
// would set) stops before step 4's model call, with Cancelled: no call follows the step-3
// report. DPM-Solver's step i ends with its call at ts[i] (its report carries that fresh x0),
// so 4 calls precede it; DDIM's step i starts with its call, so 3 do.
static void cancel_stops_before_next_call() {
  for (const char* sampler : {"dpm++2m", "ddim"}) {
    for (int by_flag = 0; by_flag < 2; ++by_flag) {
      Recipe r = base_recipe();
      r.steps = 6;
      r.sampler = sampler;
      std::atomic<bool> flag{false};
      int calls = 0, calls_at_step3 = -1, last_step = 0;
      GenerateHooks h;
      h.cancel = &flag;
      h.on_model_call = [&](const ModelCallInfo&) { ++calls; };
      h.on_progress = [&](const GenerateProgress& p) {
        if (p.stage != PipelineStage::Sampling) return StepAction::Continue;
        last_step = p.step;
        if (p.step != 3) return StepAction::Continue;
        calls_at_step3 = calls;
        if (!by_flag) return StepAction::Cancel;
        flag = true;
        return StepAction::Continue;
      };
      CHECK_THROWS_CODE(pipeline().generate(r, h), ErrorCode::Cancelled);
      std::printf("    %s, cancel by %s: %d model calls, last step %d\n", sampler, by_flag ? "flag" : "answer", calls,
                  last_step);
      CHECK(calls == calls_at_step3);
      CHECK(calls == (std::string(sampler) == "ddim" ? 3 : 4));
      CHECK(last_step == 3);
    }
  }
  // Set before the start: nothing runs, not even the text encoder's stage report.
  std::atomic<bool> early{true};
  int calls = 0;
  GenerateHooks h;
  h.cancel = &early;
  h.on_model_call = [&](const ModelCallInfo&) { ++calls; };
  CHECK_THROWS_CODE(pipeline().generate(base_recipe(), h), ErrorCode::Cancelled);
  CHECK(calls == 0);
  // The pipeline is usable after a cancel.
  CHECK(pipeline().generate(base_recipe()).images.size() == 1);
}

// preview_every k: a latent-size preview at steps k, 2k, ...; none with 0; progress for every
// step and each stage in order.
static void previews_every_k_steps() {
  Recipe r = base_recipe();
  r.steps = 7;
  r.preview_every = 3;
  std::vector<int> preview_steps, steps;
  std::vector<PipelineStage> stages;
  bool sizes_ok = true;
  GenerateHooks h;
  h.on_progress = [&](const GenerateProgress& p) {
    if (stages.empty() || stages.back() != p.stage) stages.push_back(p.stage);
    if (p.stage == PipelineStage::Sampling) steps.push_back(p.step);
    if (p.preview) {
      preview_steps.push_back(p.step);
      sizes_ok = sizes_ok && p.preview->width == 8 && p.preview->height == 4 && p.preview->rgb.size() == 8 * 4 * 3;
    }
    return StepAction::Continue;
  };
  pipeline().generate(r, h);
  CHECK((preview_steps == std::vector<int>{3, 6}));
  CHECK((steps == std::vector<int>{1, 2, 3, 4, 5, 6, 7}));
  CHECK((stages == std::vector<PipelineStage>{PipelineStage::Text, PipelineStage::Sampling, PipelineStage::Decoding}));
  CHECK(sizes_ok);
  r.preview_every = 0;
  preview_steps.clear();
  pipeline().generate(r, h);
  CHECK(preview_steps.empty());
}

// Each bad field is refused with InvalidArgument, and the message names it.
static void bad_recipes_name_the_field() {
  struct Case {
    const char* field;
    std::function<void(Recipe&)> edit;
  };
  const std::vector<Case> cases = {
      {"recipe.width", [](Recipe& r) { r.width = 40; }},       // not a multiple of 8 * patch = 16
      {"recipe.height", [](Recipe& r) { r.height = 0; }},
      {"recipe.width", [](Recipe& r) { r.width = 8192; }},
      {"recipe.steps", [](Recipe& r) { r.steps = 0; }},
      {"recipe.steps", [](Recipe& r) { r.steps = 1001; }},
      {"recipe.guidance", [](Recipe& r) { r.guidance = -1; }},
      {"recipe.guidance", [](Recipe& r) { r.guidance = std::nan(""); }},
      {"recipe.guidance", [](Recipe& r) { r.guidance = 101; }},
      {"recipe.sampler", [](Recipe& r) { r.sampler = "plms"; }},
      {"recipe.count", [](Recipe& r) { r.count = 0; }},
      {"recipe.preview_every", [](Recipe& r) { r.preview_every = -1; }},
      {"recipe.seed", [](Recipe& r) { r.seed = ~uint64_t(0), r.count = 2; }},
  };
  for (const Case& c : cases) {
    Recipe r = base_recipe();
    c.edit(r);
    ErrorCode code = ErrorCode::Internal;
    std::string msg = message_of([&] { pipeline().generate(r); }, &code);
    const bool ok = code == ErrorCode::InvalidArgument && msg.find(c.field) != std::string::npos;
    if (!ok) std::printf("    %s: got %s \"%s\"\n", c.field, error_code_name(code), msg.c_str());
    CHECK(ok);
  }
  Pipeline empty;
  ErrorCode code = ErrorCode::Internal;
  std::string msg = message_of([&] { empty.generate(base_recipe()); }, &code);
  CHECK(code == ErrorCode::InvalidArgument && msg.find("model") != std::string::npos);
}

// Manifests: relative paths against the manifest's folder, defaults read, clear errors for a
// missing part (Io, naming the field) and a malformed field (BadFile); the shipped manifest of
// the reference release parses.
static void manifests() {
  const TinyModel& tm = tiny_model();
  ModelManifest m = load_manifest(tm.manifest);
  CHECK(m.id == "tiny" && m.resolution == 64);
  CHECK(m.dimba_weights == tm.dir + "/dimba.safetensors");
  CHECK(m.vae_folder == tm.dir + "/vae");
  CHECK(m.defaults.steps == 6 && m.defaults.width == 64 && m.defaults.height == 32);
  CHECK(m.hash.rfind("fnv1a64:", 0) == 0);
  Recipe d = pipeline().default_recipe();
  CHECK(d.steps == 6 && d.width == 64 && d.height == 32 && d.sampler == "dpm++2m");

  auto code_and_msg = [&](const std::string& text, ErrorCode* code) {
    return message_of([&] { parse_manifest(text, tm.dir, "test manifest"); }, code);
  };
  const std::string ok_tail = R"(, "text_encoder": {"folder": "t5", "tokenizer": ")" +
                              harness::golden_path("tiny-spiece.model") + R"("}, "vae": {"folder": "vae"}})";
  ErrorCode code = ErrorCode::Internal;
  std::string msg = code_and_msg(R"({"id": "x", "dimba": {"config": "dimba-l-2", "weights": "nope.pt"})" + ok_tail, &code);
  CHECK(code == ErrorCode::Io && msg.find("dimba.weights") != std::string::npos &&
        msg.find(tm.dir + "/nope.pt") != std::string::npos);
  msg = code_and_msg(R"({"id": "x", "dimba": {"config": "dimba-l-2", "weights": 5})" + ok_tail, &code);
  CHECK(code == ErrorCode::BadFile && msg.find("dimba.weights") != std::string::npos);
  msg = code_and_msg(R"({"dimba": {"config": "dimba-l-2", "weights": "dimba.safetensors"})" + ok_tail, &code);
  CHECK(code == ErrorCode::BadFile && msg.find("id") != std::string::npos);
  msg = code_and_msg(R"({"id": "x", "defaults": {"sampler": "plms"},
                         "dimba": {"config": "dimba-l-2", "weights": "dimba.safetensors"})" + ok_tail, &code);
  CHECK(code == ErrorCode::BadFile && msg.find("defaults") != std::string::npos);
  msg = code_and_msg("[1, 2]", &code);
  CHECK(code == ErrorCode::BadFile);
  CHECK_THROWS_CODE(load_manifest(tm.dir + "/missing.json"), ErrorCode::Io);

  // The reference release's manifest (pipeline/dimba-l-512.manifest.json).
  const std::string shipped = std::string(DIMBA_TEST_DATA_DIR) + "/../../src/pipeline/dimba-l-512.manifest.json";
  std::ifstream in(shipped);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(!text.empty());
  ModelManifest ref = parse_manifest(text, "/models", shipped, false);
  CHECK(ref.id == "dimba-l-512" && ref.resolution == 512);
  CHECK(ref.dimba.depth == 28 && ref.dimba.hidden_size == 1152 && ref.dimba.pe_interpolation == 1.0 &&
        ref.dimba.input_size == 64 && ref.dimba.model_max_length == 300);
  CHECK(ref.dimba_weights == "/models/ckpts/dimba-l-512.pt");
  CHECK(ref.t5_folder == "/models/ckpts/t5-v1_1-xxl" && ref.vae_folder == "/models/ckpts/vae");
  CHECK(ref.tokenizer == "/models/ckpts/t5-v1_1-xxl/spiece.model");
  CHECK(ref.defaults.steps == 20 && ref.defaults.guidance == 4.5 && ref.defaults.sampler == "dpm++2m");
}

// Parts that do not fit together are refused at load with ModelMismatch.
static void mismatched_parts() {
  const TinyModel& tm = tiny_model();
  DimbaConfig wide = tiny_dimba_config();
  wide.caption_channels = 48;
  const std::string weights = tm.dir + "/dimba-wide.safetensors";
  write_random(weights, dimba_expected_tensors(wide), 14);
  Checkpoint ck = load_safetensors(weights);
  DimbaModel dimba = DimbaModel::load(ck, wide, DType::F32);
  CHECK_THROWS_CODE(Pipeline::from_parts(PipelineModelInfo{}, Tokenizer::load(harness::golden_path("tiny-spiece.model")),
                                         T5Encoder::load_pretrained(tm.dir + "/t5", T5WeightFormat::F32),
                                         std::move(dimba), VaeModel::load_folder(tm.dir + "/vae", DType::F32)),
                    ErrorCode::ModelMismatch);
}

// bf16 weights run the same pipeline deterministically too.
static void bf16_weights_deterministic() {
  Pipeline p = Pipeline::load(load_manifest(tiny_model().manifest), PipelineOptions{DType::BF16});
  Recipe r = base_recipe();
  r.steps = 3;
  GenerateResult a = p.generate(r), b = p.generate(r);
  CHECK(a.images[0].rgb == b.images[0].rgb);
  CHECK(p.info().weights == "bf16");
}

// A device with a fixed number of bytes, on the CPU's ops and host memory (host_memory false,
// so the models allocate and stage through it as on a GPU; buffers of at most 64 KiB, so a
// model's weights take several and a load can fail part way).
namespace tight_device {
size_t budget = 0, live = 0, peak = 0;
size_t max_buffer() { return size_t(64) << 10; }
std::map<void*, size_t> sizes;
void* alloc(size_t bytes) {
  if (live + bytes > budget) throw EngineError(ErrorCode::OutOfMemory, "tight: out of memory");
  void* p = cpu_backend().alloc(bytes);
  sizes[p] = bytes;
  live += bytes;
  peak = std::max(peak, live);
  return p;
}
void release(void* p) {
  live -= sizes.at(p);
  sizes.erase(p);
  cpu_backend().free(p);
}
Backend backend() {
  Backend b = cpu_backend();
  b.name = "tight";
  b.host_memory = false;
  b.max_buffer_bytes = max_buffer;
  b.alloc = alloc;
  b.free = release;
  return b;
}
}  // namespace tight_device

// T5 on the model's device while it fits; where loading it runs the device out of memory, on
// the CPU with a note saying so, and what the failed load had allocated there freed. The
// embeddings are the same either way (both run the CPU's arithmetic here).
static void text_encoder_falls_back_to_cpu() {
  const std::string folder = tiny_model().dir + "/t5";
  const Backend dev = tight_device::backend();
  std::vector<int32_t> ids(kMaxLen, 0);
  for (int i = 0; i < 5; ++i) ids[size_t(i)] = 7 + 113 * i;
  auto embed = [&](T5Encoder& t5) {
    std::vector<float> y(size_t(kMaxLen) * kCaption);
    t5.forward(y.data(), ids.data(), nullptr, 1, kMaxLen);
    return y;
  };
  std::vector<float> on_device;
  size_t t5_bytes = 0;
  tight_device::budget = size_t(1) << 30;
  {
    PlacedTextEncoder roomy = load_text_encoder(folder, T5WeightFormat::F32, dev);
    CHECK(roomy.backend == &dev && roomy.note.empty());
    t5_bytes = tight_device::live;
    on_device = embed(roomy.t5);
  }
  CHECK(t5_bytes > 0 && tight_device::live == 0);
  tight_device::budget = t5_bytes / 2;
  PlacedTextEncoder cramped = load_text_encoder(folder, T5WeightFormat::F32, dev);
  std::printf("    T5 takes %zu bytes of the device; with room for %zu: %s\n", t5_bytes, tight_device::budget,
              cramped.note.c_str());
  CHECK(cramped.backend == &cpu_backend());
  CHECK(cramped.note.rfind("the text encoder on cpu (tight has no room for it: tight: out of memory", 0) == 0);
  CHECK(tight_device::live == 0 && tight_device::sizes.empty());
  CHECK(embed(cramped.t5) == on_device);
}

// A recipe that runs the device out of memory with T5 on it: T5 moves to the CPU (its device
// bytes freed), the recipe runs again from the text stage and gives the pixels it gives with
// room to spare; with no room even then, OutOfMemory.
static void text_encoder_moves_to_cpu_when_a_recipe_needs_room() {
  const Backend dev = tight_device::backend();
  PipelineOptions opt{DType::F32};
  opt.device = &dev;
  const Recipe r = base_recipe();
  int text_reports = 0;
  GenerateHooks hooks;
  hooks.on_progress = [&](const GenerateProgress& p) {
    text_reports += p.stage == PipelineStage::Text;
    return StepAction::Continue;
  };
  tight_device::budget = size_t(1) << 30;
  tight_device::peak = 0;
  std::vector<uint8_t> want;
  size_t loaded = 0, kept = 0;
  {
    Pipeline roomy = Pipeline::load(load_manifest(tiny_model().manifest), opt);
    loaded = tight_device::live;
    want = roomy.generate(r, hooks).images.at(0).rgb;
    kept = tight_device::live;
  }
  const size_t peak = tight_device::peak;
  CHECK(text_reports == 1 && tight_device::live == 0 && loaded < peak);
  tight_device::budget = peak - 1;
  text_reports = 0;
  {
    Pipeline cramped = Pipeline::load(load_manifest(tiny_model().manifest), opt);
    const std::vector<uint8_t> got = cramped.generate(r, hooks).images.at(0).rgb;
    std::printf("    loaded %zu bytes, peak %zu; with room for %zu: %d text stages, %zu bytes kept (was %zu)\n",
                loaded, peak, tight_device::budget, text_reports, tight_device::live, kept);
    CHECK(text_reports == 2 && tight_device::live < kept);
    CHECK(got == want);
  }
  tight_device::budget = loaded;
  Pipeline starved = Pipeline::load(load_manifest(tiny_model().manifest), opt);
  CHECK_THROWS_CODE(starved.generate(r), ErrorCode::OutOfMemory);
}

// The backend option: a missing backend is a typed error, auto says why, and on Vulkan (when a
// device exists; lavapipe in CI) the same recipe gives the CPU's pixels up to rounding.
static void backend_option() {
  PipelineOptions opt{DType::F32};
  opt.backend = "cuda";
  CHECK_THROWS_CODE(Pipeline::load(load_manifest(tiny_model().manifest), opt), ErrorCode::BackendUnavailable);
  opt.backend = "auto";
  Pipeline a = Pipeline::load(load_manifest(tiny_model().manifest), opt);
  CHECK(a.info().backend_reason.rfind("auto: ", 0) == 0);
  CHECK(pipeline().info().backend == "cpu");
  bool have_vulkan = false;
  for (const BackendProbe& p : probe_backends()) have_vulkan = have_vulkan || (p.name == "vulkan" && p.available);
  if (!have_vulkan) {
    std::printf("    no Vulkan device: the Vulkan half is skipped\n");
    return;
  }
  opt.backend = "vulkan";
  Pipeline v = Pipeline::load(load_manifest(tiny_model().manifest), opt);
  CHECK(v.info().backend == "vulkan");
  Recipe r = base_recipe();
  r.steps = 3;
  const std::vector<uint8_t> want = pipeline().generate(r).images[0].rgb, got = v.generate(r).images[0].rgb;
  CHECK(got.size() == want.size());
  int worst = 0;
  double sum = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const int d = std::abs(int(got[i]) - int(want[i]));
    worst = std::max(worst, d);
    sum += d;
  }
  std::printf("    vulkan vs cpu pixels: max |diff| %d, mean %.4f (of 255)\n", worst, sum / double(got.size()));
  CHECK(worst <= 2);
}

// `test_pipeline --write-tiny-model DIR` only writes the tiny model and its manifest
// (DIR/tiny.manifest.json), for the addon and CLI smoke tests.
int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--write-tiny-model") {
    keep_dir = argv[2];
    std::printf("%s\n", tiny_model().manifest.c_str());
    return 0;
  }
  RUN(model_times_are_the_samplers);
  RUN(guidance_batch_and_masks);
  RUN(same_recipe_same_pixels);
  RUN(count_uses_consecutive_seeds);
  RUN(cancel_stops_before_next_call);
  RUN(previews_every_k_steps);
  RUN(bad_recipes_name_the_field);
  RUN(manifests);
  RUN(mismatched_parts);
  RUN(bf16_weights_deterministic);
  RUN(backend_option);
  RUN(text_encoder_falls_back_to_cpu);
  RUN(text_encoder_moves_to_cpu_when_a_recipe_needs_room);
  const std::string cmd = "rm -rf '" + tiny_model().dir + "'";
  if (std::system(cmd.c_str()) != 0) std::printf("could not remove %s\n", tiny_model().dir.c_str());
  return harness::summary();
}
