// The Dimba forward against the float64 reference's golden tensors (dimba-tiny: square,
// gap 1; dimba-wide: non-square 6x10 latent, gap 2, pe_interpolation 2, three text lengths):
// every activation and the output, f32 weights within 1e-4 and bf16 weights within 2e-2.
// Also: a checkpoint with missing / mis-shaped / unexpected tensors is refused with ONE
// ModelMismatch naming all of them, absurd configs and sizes give InvalidArgument, and the
// expected tensor list is exactly the real Dimba-L/2 key list; forward_device gives forward's output.
// defines: main (test_dimba_golden)
#include <cstring>
#include <set>

#include "core/tensor.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/dimba.h"
#include "harness.h"
#include "verify/golden.h"

using namespace dimba;

static void check_case(const char* name, DType wdtype) {
  VerifyOptions opt;
  opt.weight_dtype = wdtype;
  VerifyReport rep = verify_golden(harness::golden_path(""), name, opt);
  CHECK(rep.kind == "dimba");
  CHECK(rep.lines.size() > 5);
  for (const CompareLine& l : rep.lines) {
    std::printf("    %-6s %-34s rel_l2 %.3e (tol %.0e) %s\n", dtype_name(wdtype), l.name.c_str(), l.rel_err, l.tol,
                l.pass() ? "PASS" : "FAIL");
    if (!l.pass()) harness::fail(__FILE__, __LINE__, std::string(name) + " " + l.name);
  }
}

static void tiny_f32() { check_case("dimba-tiny", DType::F32); }
static void wide_f32() { check_case("dimba-wide", DType::F32); }
static void tiny_bf16() { check_case("dimba-tiny", DType::BF16); }
static void wide_bf16() { check_case("dimba-wide", DType::BF16); }
static void wide_f16() { check_case("dimba-wide", DType::F16); }

static DimbaConfig tiny_config() {
  std::string p = harness::golden_path("dimba-tiny.json");
  return DimbaConfig::from_json(parse_json_untrusted(read_text_file(p), p));
}

// forward_device (inputs already in backend memory, the CUDA graph entry) runs the same network
// as forward: on the CPU, where device memory is host memory, the outputs are identical.
static void forward_device_matches_forward() {
  Checkpoint w = load_safetensors(harness::golden_path("dimba-tiny.weights.safetensors"));
  Checkpoint io = load_safetensors(harness::golden_path("dimba-tiny.io.safetensors"));
  DimbaModel m = DimbaModel::load(w, tiny_config(), DType::F32);
  auto floats = [&](const char* key) {
    const TensorEntry* e = io.find(key);
    std::vector<float> v(e ? e->nbytes / 4 : 0);
    if (e) std::memcpy(v.data(), e->data, e->nbytes);
    return v;
  };
  const TensorEntry* ex = io.find("input.x");
  const TensorEntry* ey = io.find("input.y");
  CHECK(ex && ey);
  if (!ex || !ey) return;
  const int B = int(ex->shape[0]), H = int(ex->shape[2]), W = int(ex->shape[3]), L = int(ey->shape[2]);
  std::vector<float> x = floats("input.x"), t = floats("input.t"), y = floats("input.y");
  std::vector<int> lens(size_t(B), L);
  lens[0] = L / 2;  // a shorter text for one sample
  std::vector<float> a(size_t(B) * m.config().out_channels * H * W), b(a.size(), -1.0f);
  m.forward(a.data(), x.data(), t.data(), y.data(), lens.data(), B, H, W, L);
  m.forward_device(b.data(), x.data(), t.data(), y.data(), lens.data(), B, H, W, L);
  CHECK(a == b);
  CHECK_THROWS_CODE(m.forward_device(b.data(), x.data(), t.data(), y.data(), nullptr, B, H + 1, W, L),
                    ErrorCode::InvalidArgument);
}

static void mismatch_lists_every_problem() {
  Checkpoint ck = load_safetensors(harness::golden_path("dimba-tiny.weights.safetensors"));
  ck.tensors.erase("blocks.1.mlp.fc2.bias");
  ck.tensors.erase("mamba_blocks.0.mixer.A_b_log");
  ck.tensors["blocks.0.attn.qkv.weight"].shape = {64, 192};  // same bytes, wrong shape
  ck.tensors["blocks.7.attn.qkv.weight"] = ck.tensors["blocks.1.attn.qkv.weight"];
  ck.tensors["pos_embed"] = ck.tensors["x_embedder.proj.bias"];  // ignored, never an error
  bool threw = false;
  try {
    DimbaModel::load(ck, tiny_config(), DType::F32);
  } catch (const EngineError& e) {
    threw = true;
    std::string m = e.what();
    CHECK(e.code == ErrorCode::ModelMismatch);
    CHECK(m.find("missing blocks.1.mlp.fc2.bias") != std::string::npos);
    CHECK(m.find("missing mamba_blocks.0.mixer.A_b_log") != std::string::npos);
    CHECK(m.find("mis-shaped blocks.0.attn.qkv.weight") != std::string::npos);
    CHECK(m.find("unexpected blocks.7.attn.qkv.weight") != std::string::npos);
    CHECK(m.find("pos_embed") == std::string::npos);
    CHECK(m.find("4 problem(s)") != std::string::npos);
  }
  CHECK(threw);
  Checkpoint ck2 = load_safetensors(harness::golden_path("dimba-tiny.weights.safetensors"));
  ck2.tensors["final_layer.linear.bias"].dtype = DType::I32;  // same bytes, not a float
  CHECK_THROWS_CODE(DimbaModel::load(ck2, tiny_config(), DType::F32), ErrorCode::ModelMismatch);
}

static void load_file_matches_load() {
  // Through load_checkpoint (content-dispatched): same model, same output.
  DimbaModel m = DimbaModel::load_file(harness::golden_path("dimba-tiny.weights.safetensors"), tiny_config(), DType::F32);
  CHECK(m.weight_bytes() > 0 && m.config().depth == 2);
  CHECK_THROWS_CODE(DimbaModel::load_file(harness::golden_path("no-such-file.safetensors"), tiny_config(), DType::F32),
                    ErrorCode::Io);
}

static void absurd_configs_and_sizes() {
  auto cfg_with = [](const char* key, nlohmann::json v) {
    std::string p = harness::golden_path("dimba-tiny.json");
    nlohmann::json j = parse_json_untrusted(read_text_file(p), p);
    j[key] = v;
    j.erase("gap");
    j.erase("mamba_depth");
    return DimbaConfig::from_json(j);
  };
  CHECK_THROWS_CODE(cfg_with("hidden_size", 65), ErrorCode::InvalidArgument);   // not divisible by heads
  CHECK_THROWS_CODE(cfg_with("depth", 0), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(cfg_with("depth", 1e12), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(cfg_with("mamba_ratio", 0.1), ErrorCode::InvalidArgument);  // int(0.2) = 0 blocks
  CHECK_THROWS_CODE(cfg_with("patch_size", -2), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(cfg_with("pe_interpolation", "big"), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(cfg_with("d_state", 100000), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(DimbaConfig::from_json(nlohmann::json::array()), ErrorCode::InvalidArgument);
  {  // depth 8, int(0.375*8) = 3 mamba blocks, gap 2: block 7 would index mamba_blocks[3]
    DimbaConfig c = tiny_config();
    c.depth = 8;
    c.mamba_ratio = 0.375;
    CHECK_THROWS_CODE(c.validate(), ErrorCode::InvalidArgument);
  }
  Checkpoint ck = load_safetensors(harness::golden_path("dimba-tiny.weights.safetensors"));
  DimbaModel m = DimbaModel::load(ck, tiny_config(), DType::F32);
  CHECK_THROWS_CODE(DimbaModel::load(ck, tiny_config(), DType::I64), ErrorCode::InvalidArgument);
  std::vector<float> buf(4096, 0.0f);
  int lens[2] = {3, 9};
  CHECK_THROWS_CODE(m.forward(buf.data(), buf.data(), buf.data(), buf.data(), nullptr, 1, 7, 8, 8), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(m.forward(buf.data(), buf.data(), buf.data(), buf.data(), nullptr, 0, 8, 8, 8), ErrorCode::InvalidArgument);
  CHECK_THROWS_CODE(m.forward(buf.data(), buf.data(), buf.data(), buf.data(), lens, 2, 8, 8, 8), ErrorCode::InvalidArgument);
}

static void expected_tensors_are_dimba_l_keys() {
  std::string p = harness::golden_path("dimba-l-2.keys.json");
  nlohmann::json keys = parse_json_untrusted(read_text_file(p), p);
  std::set<std::string> want;
  size_t params = 0;
  bool shapes_ok = true;
  auto exp = dimba_expected_tensors(DimbaConfig::dimba_l_2(512));
  std::map<std::string, std::vector<int64_t>> got(exp.begin(), exp.end());
  for (const auto& k : keys) {
    std::string name = k[0].get<std::string>();
    if (name == "pos_embed") continue;
    want.insert(name);
    std::vector<int64_t> shape = k[1].get<std::vector<int64_t>>();
    shapes_ok = shapes_ok && got.count(name) && got[name] == shape;
    params += size_t(shape_numel(shape));
  }
  CHECK(shapes_ok);
  CHECK(want.size() == got.size() && want.size() == 912);
  std::printf("    Dimba-L/2 parameters without pos_embed: %zu\n", params);
}

int main() {
  RUN(tiny_f32);
  RUN(wide_f32);
  RUN(tiny_bf16);
  RUN(wide_bf16);
  RUN(wide_f16);
  RUN(mismatch_lists_every_problem);
  RUN(load_file_matches_load);
  RUN(forward_device_matches_forward);
  RUN(absurd_configs_and_sizes);
  RUN(expected_tensors_are_dimba_l_keys);
  return harness::summary();
}
