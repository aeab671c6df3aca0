// Torch checkpoints through load_checkpoint: the fixtures written by
// tests/data/make_torch_fixtures.py (torch.save's zip layout and pickle stream, values known
// here), sharded indexes, folders, name filters, and hostile or truncated files, which must
// end in a typed error naming the problem and never in a crash or in anything executed.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "harness.h"
#include "io/load_checkpoint.h"
#include "io/safetensors.h"

using namespace dimba;

static std::string fixture(const std::string& name) { return std::string(DIMBA_TEST_DATA_DIR) + "/torch/" + name; }

static std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}
static void write_bytes(const std::string& path, const void* p, size_t n) {
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char*>(p), std::streamsize(n));
}
// A fresh folder under /tmp, removed (with everything in it) when the process exits.
static std::string scratch_dir(const char* name) {
  static std::vector<std::string>* made = [] {
    static std::vector<std::string> v;
    std::atexit([] { for (auto& d : v) std::filesystem::remove_all(d); });
    return &v;
  }();
  std::string d = std::string("/tmp/dimba_test_torch_") + name + "_" + std::to_string(::getpid());
  std::filesystem::create_directories(d);
  made->push_back(d);
  return d;
}

static std::vector<float> as_f32(const TensorEntry* e) {
  std::vector<float> v;
  if (!e) return v;
  size_t n = e->nbytes / dtype_size(e->dtype);
  for (size_t i = 0; i < n; ++i) {
    if (e->dtype == DType::F32) { float f; std::memcpy(&f, e->data + 4 * i, 4); v.push_back(f); }
    if (e->dtype == DType::F16) { uint16_t h; std::memcpy(&h, e->data + 2 * i, 2); v.push_back(f16_to_f32(h)); }
    if (e->dtype == DType::BF16) { uint16_t h; std::memcpy(&h, e->data + 2 * i, 2); v.push_back(bf16_to_f32(h)); }
    if (e->dtype == DType::I64) { int64_t x; std::memcpy(&x, e->data + 8 * i, 8); v.push_back(float(x)); }
    if (e->dtype == DType::U8) v.push_back(float(e->data[i]));
  }
  return v;
}
static std::vector<float> arange(int n, float scale = 1, float start = 0) {
  std::vector<float> v;
  for (int i = 0; i < n; ++i) v.push_back(start + scale * float(i));
  return v;
}
using Shape = std::vector<int64_t>;

// The message must name the problem (the global, the entry, ...), not only carry a code.
#define CHECK_THROWS_MSG(expr, ecode, needle)                                               \
  do {                                                                                      \
    bool threw_ = false;                                                                    \
    try {                                                                                   \
      (void)(expr);                                                                         \
    } catch (const EngineError& e_) {                                                       \
      threw_ = true;                                                                        \
      std::printf("    %s -> %s: %s\n", #expr, error_code_name(e_.code), e_.what());       \
      if (e_.code != (ecode) || std::strstr(e_.what(), needle) == nullptr)                 \
        harness::fail(__FILE__, __LINE__, std::string("wrong error: ") + e_.what());       \
    }                                                                                       \
    if (!threw_) harness::fail(__FILE__, __LINE__, "did not throw: " #expr);                \
  } while (0)

static void loads_state_dict_checkpoint() {
  Checkpoint ck = load_checkpoint(fixture("dimba_state_dict.pt"));
  CHECK(ck.tensors.size() == 13);  // 'step' and 'config' beside state_dict are not tensors
  const TensorEntry* x = ck.find("x_embedder.proj.weight");
  CHECK(x && x->dtype == DType::F32 && x->shape == Shape({2, 3, 4}) && x->nbytes == 96);
  CHECK(as_f32(x) == arange(24));
  // Zero-copy: torch aligns records to 64 bytes and the mapping is page aligned.
  CHECK(x && reinterpret_cast<uintptr_t>(x->data) % 64 == 0);
  const TensorEntry* h = ck.find("blocks.0.attn.weight");
  CHECK(h && h->dtype == DType::F16 && h->shape == Shape({3, 4}) && as_f32(h) == arange(12, 0.5f));
  const TensorEntry* b = ck.find("blocks.0.mlp.weight");
  CHECK(b && b->dtype == DType::BF16 && as_f32(b) == arange(8, 1, -4));

  // Three views of one storage: the contiguous ones point into the same bytes.
  const TensorEntry* sa = ck.find("shared.a");
  const TensorEntry* sb = ck.find("shared.b");
  const TensorEntry* sc = ck.find("shared.c");
  CHECK(sa && sa->shape == Shape({2, 5}) && as_f32(sa) == arange(10));
  CHECK(sb && sb->shape == Shape({10}) && as_f32(sb) == arange(10, 1, 10));
  CHECK(sa && sb && sb->data == sa->data + 40);
  CHECK(sc && sc->shape == Shape({2, 2}) && as_f32(sc) == std::vector<float>({3, 4, 7, 8}));

  const TensorEntry* t = ck.find("blocks.0.proj.weight_t");  // (2,3) transposed: a copy
  CHECK(t && t->shape == Shape({3, 2}) && as_f32(t) == std::vector<float>({0, 3, 1, 4, 2, 5}));
  const TensorEntry* pe = ck.find("pos_embed");  // float64 on disk, float32 in the engine
  CHECK(pe && pe->dtype == DType::F32 && pe->shape == Shape({1, 4}) && as_f32(pe) == arange(4, 0.25f));
  const TensorEntry* c = ck.find("counts");
  CHECK(c && c->dtype == DType::I64 && as_f32(c) == std::vector<float>({1, 2, 3}));
  const TensorEntry* m = ck.find("mask");
  CHECK(m && m->dtype == DType::U8 && as_f32(m) == std::vector<float>({1, 0, 1}));
  CHECK(as_f32(ck.find("param.weight")) == std::vector<float>({1, 2}));  // nn.Parameter
  const TensorEntry* s = ck.find("scalar");
  CHECK(s && s->shape.empty() && s->nbytes == 4 && as_f32(s) == std::vector<float>({7.5f}));
  const TensorEntry* e = ck.find("empty");
  CHECK(e && e->shape == Shape({0, 4}) && e->nbytes == 0);
}

static void loads_protocol4_zip64_and_rebuild_v3() {
  Checkpoint ck = load_checkpoint(fixture("plain_proto4_zip64.bin"));
  CHECK(ck.tensors.size() == 2);
  const TensorEntry* w = ck.find("encoder.weight");
  CHECK(w && w->shape == Shape({2, 3}) && as_f32(w) == arange(6));
  const TensorEntry* b = ck.find("encoder.bf16");  // untyped storage + torch.bfloat16
  CHECK(b && b->dtype == DType::BF16 && as_f32(b) == arange(4, 2));
}

static void filters_names() {
  LoadOptions o;
  o.prefixes = {"shared.", "blocks.0.attn"};
  o.keep = [](const std::string& n) { return n != "shared.c"; };
  Checkpoint ck = load_checkpoint(fixture("dimba_state_dict.pt"), o);
  CHECK(ck.tensors.size() == 3);
  CHECK(ck.find("shared.a") && ck.find("shared.b") && ck.find("blocks.0.attn.weight"));
}

static void loads_sharded_index_and_folder() {
  const std::vector<std::pair<std::string, std::vector<float>>> want = {
      {"shared.weight", arange(6)}, {"encoder.block.0.w", arange(4, 1, 10)},
      {"decoder.block.0.w", arange(4, 1, 20)}, {"lm_head.weight", arange(2, 1, 30)}};
  for (std::string path : {fixture("sharded/pytorch_model.bin.index.json"), fixture("sharded")}) {
    Checkpoint ck = load_checkpoint(path);
    CHECK(ck.tensors.size() == 4);
    for (auto& [name, values] : want) CHECK(as_f32(ck.find(name)) == values);
    CHECK(ck.metadata["total_size"].empty());  // a number in the index, not a string
  }

  // T5's encoder only: the decoder shard is never opened, so garbage there is harmless.
  std::string dir = scratch_dir("shards");
  for (const char* f : {"pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin"}) {
    auto b = read_bytes(fixture(std::string("sharded/") + f));
    write_bytes(dir + "/" + f, b.data(), b.size());
  }
  write_bytes(dir + "/pytorch_model-00002-of-00002.bin", "garbage!", 8);
  LoadOptions enc;
  enc.prefixes = {"shared.", "encoder."};
  Checkpoint ck = load_checkpoint(dir, enc);
  CHECK(ck.tensors.size() == 2 && as_f32(ck.find("encoder.block.0.w")) == arange(4, 1, 10));
  CHECK_THROWS_CODE(load_checkpoint(dir), ErrorCode::UnsupportedFormat);  // the garbage shard

  // Hostile indexes.
  std::string evil = R"({"weight_map": {"a": "../../etc/passwd"}})";
  write_bytes(dir + "/evil.index.json", evil.data(), evil.size());
  CHECK_THROWS_MSG(load_checkpoint(dir + "/evil.index.json"), ErrorCode::BadFile, "../../etc/passwd");
  std::string ghost = R"({"weight_map": {"ghost": "pytorch_model-00001-of-00002.bin"}})";
  write_bytes(dir + "/ghost.index.json", ghost.data(), ghost.size());
  CHECK_THROWS_MSG(load_checkpoint(dir + "/ghost.index.json"), ErrorCode::BadFile, "ghost");
  std::string nested = R"({"weight_map": {"a": "ghost.index.json"}})";
  write_bytes(dir + "/nested.index.json", nested.data(), nested.size());
  CHECK_THROWS_CODE(load_checkpoint(dir + "/nested.index.json"), ErrorCode::BadFile);
  CHECK_THROWS_CODE(load_checkpoint(dir + "/missing.bin"), ErrorCode::Io);
  CHECK_THROWS_CODE(load_checkpoint(scratch_dir("empty")), ErrorCode::Io);  // no model file
}

static void loads_safetensors_by_content() {
  // Safetensors shards under a .bin-looking name: the first bytes decide, not the extension.
  std::string dir = scratch_dir("st");
  std::vector<float> a = arange(4), b = arange(2, 1, 5);
  save_safetensors(dir + "/one.bin", {{"enc.a", {DType::F32, {4}, a.data()}}});
  save_safetensors(dir + "/two.safetensors", {{"dec.b", {DType::F32, {2}, b.data()}}});
  std::string idx = R"({"metadata": {"format": "pt"}, "weight_map": {"enc.a": "one.bin", "dec.b": "two.safetensors"}})";
  write_bytes(dir + "/model.safetensors.index.json", idx.data(), idx.size());
  Checkpoint ck = load_checkpoint(dir);
  CHECK(ck.tensors.size() == 2 && as_f32(ck.find("enc.a")) == a && as_f32(ck.find("dec.b")) == b);
  CHECK(ck.metadata["format"] == "pt");
  LoadOptions o;
  o.prefixes = {"dec."};
  CHECK(load_checkpoint(dir + "/one.bin", o).tensors.empty());
}

static void refuses_hostile_files() {
  std::remove("/tmp/dimba_pwned");
  CHECK_THROWS_MSG(load_checkpoint(fixture("hostile_posix_system.pt")), ErrorCode::UnsupportedFormat, "posix.system");
  CHECK_THROWS_MSG(load_checkpoint(fixture("hostile_builtins_eval.pt")), ErrorCode::UnsupportedFormat, "builtins.eval");
  CHECK_THROWS_MSG(load_checkpoint(fixture("hostile_subprocess_proto4.pt")), ErrorCode::UnsupportedFormat, "subprocess.Popen");
  CHECK(::access("/tmp/dimba_pwned", F_OK) != 0);  // nothing was executed
  CHECK_THROWS_MSG(load_checkpoint(fixture("hostile_deep_marks.pt")), ErrorCode::BadFile, "nested deeper");
  CHECK_THROWS_MSG(load_checkpoint(fixture("hostile_huge_length.pt")), ErrorCode::BadFile, "truncated");
  CHECK_THROWS_MSG(load_checkpoint(fixture("hostile_huge_length8.pt")), ErrorCode::BadFile, "truncated");
  CHECK_THROWS_MSG(load_checkpoint(fixture("hostile_missing_storage.pt")), ErrorCode::BadFile, "archive/data/99");
  CHECK_THROWS_MSG(load_checkpoint(fixture("hostile_view_out_of_range.pt")), ErrorCode::BadFile, "reaches past");
  CHECK_THROWS_MSG(load_checkpoint(fixture("hostile_short_storage.pt")), ErrorCode::BadFile, "holds 8 bytes");
  CHECK_THROWS_MSG(load_checkpoint(fixture("deflated.pt")), ErrorCode::UnsupportedFormat, "DEFLATE");
  CHECK_THROWS_MSG(load_checkpoint(fixture("int8_tensor.pt")), ErrorCode::UnsupportedFormat, "int8");
  CHECK_THROWS_MSG(load_checkpoint(fixture("legacy_pickle.pt")), ErrorCode::UnsupportedFormat, "legacy");
  // Legal but deep: 20000 nested lists load (no tensors) without recursing.
  CHECK(load_checkpoint(fixture("deep_nested_lists.pt")).tensors.empty());
}

// Every prefix of every valid fixture is a truncated file: BadFile, never a crash.
static void truncations_are_bad_files() {
  for (const char* f : {"dimba_state_dict.pt", "plain_proto4_zip64.bin", "sharded/pytorch_model-00001-of-00002.bin"}) {
    std::vector<uint8_t> all = read_bytes(fixture(f));
    CHECK(!all.empty());
    size_t wrong = 0;
    for (size_t len = 0; len < all.size(); ++len) {
      std::vector<uint8_t> cut(all.begin(), all.begin() + long(len));  // exact size for ASan
      try {
        parse_torch_checkpoint(cut.data(), cut.size(), nullptr, f);
        ++wrong;
      } catch (const EngineError& e) {
        if (e.code != ErrorCode::BadFile) ++wrong;
      }
    }
    if (wrong) std::printf("    %s: %zu truncations did not give BadFile\n", f, wrong);
    CHECK(wrong == 0);
    // And through the file path, at a spread of lengths.
    std::string path = scratch_dir("trunc") + "/cut.pt";
    for (size_t len : {size_t(1), size_t(3), size_t(4), all.size() / 3, all.size() / 2, all.size() - 1}) {
      write_bytes(path, all.data(), len);
      CHECK_THROWS_CODE(load_checkpoint(path), ErrorCode::BadFile);
    }
  }
}

// Every single-byte corruption of a valid fixture: success or a typed error.
static void corruptions_never_crash() {
  std::vector<uint8_t> all = read_bytes(fixture("dimba_state_dict.pt"));
  for (size_t i = 0; i < all.size(); ++i) {
    for (uint8_t x : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xff)}) {
      std::vector<uint8_t> b = all;
      b[i] ^= x;
      try {
        Checkpoint ck = parse_torch_checkpoint(b.data(), b.size(), nullptr, "flip");
        for (auto& [n, t] : ck.tensors) {  // touch every byte: must be inside the buffer
          volatile uint8_t sink = 0;
          for (size_t k = 0; k < t.nbytes; ++k) sink ^= t.data[k];
        }
      } catch (const EngineError&) {
      }
    }
  }
}

int main() {
  RUN(loads_state_dict_checkpoint);
  RUN(loads_protocol4_zip64_and_rebuild_v3);
  RUN(filters_names);
  RUN(loads_sharded_index_and_folder);
  RUN(loads_safetensors_by_content);
  RUN(refuses_hostile_files);
  RUN(truncations_are_bad_files);
  RUN(corruptions_never_crash);
  return harness::summary();
}
