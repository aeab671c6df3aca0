// safetensors reading and writing: round trips, the golden files, and malformed input that
// must end in a typed error rather than a crash.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "harness.h"
#include "io/safetensors.h"

using namespace dimba;

static std::vector<uint8_t> file_bytes(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> b(8 + header.size() + data_bytes, 0);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) b[i] = uint8_t(n >> (8 * i));
  std::memcpy(b.data() + 8, header.data(), header.size());
  return b;
}

static Checkpoint parse(const std::vector<uint8_t>& b) {
  return parse_safetensors(b.data(), b.size(), nullptr, "test");
}

static void round_trip() {
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<uint16_t> h = {f32_to_bf16(1.5f), f32_to_bf16(-2.0f)};
  std::string path = "/tmp/dimba_test_roundtrip.safetensors";
  save_safetensors(path, {{"a", {DType::F32, {2, 3}, a.data()}}, {"b.h", {DType::BF16, {2}, h.data()}}},
                   {{"format", "pt"}});
  Checkpoint ck = load_safetensors(path);
  CHECK(ck.tensors.size() == 2);
  CHECK(ck.metadata["format"] == "pt");
  const TensorEntry* ea = ck.find("a");
  CHECK(ea && ea->dtype == DType::F32 && ea->shape == std::vector<int64_t>({2, 3}));
  CHECK(ea && std::memcmp(ea->data, a.data(), 24) == 0);
  const TensorEntry* eb = ck.find("b.h");
  CHECK(eb && eb->dtype == DType::BF16 && bf16_to_f32(reinterpret_cast<const uint16_t*>(eb->data)[1]) == -2.0f);
  std::remove(path.c_str());
}

static void reads_golden() {
  Checkpoint ck = load_safetensors(harness::golden_path("dimba-tiny.weights.safetensors"));
  CHECK(ck.tensors.size() > 20);
  CHECK(ck.find("x_embedder.proj.weight") != nullptr);
}

static void rejects_malformed() {
  CHECK_THROWS_CODE(parse(std::vector<uint8_t>(4, 0)), ErrorCode::BadFile);
  auto lying = file_bytes("{}", 0);
  lying[0] = 200;  // header longer than the file
  CHECK_THROWS_CODE(parse(lying), ErrorCode::BadFile);
  auto huge = file_bytes("{}", 0);
  huge[7] = 0x7f;
  CHECK_THROWS_CODE(parse(huge), ErrorCode::BadFile);
  CHECK_THROWS_CODE(parse(file_bytes("{\"a\":", 0)), ErrorCode::BadFile);
  CHECK_THROWS_CODE(parse(file_bytes(std::string(100000, '['), 0)), ErrorCode::BadFile);
  CHECK_THROWS_CODE(parse(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8)),
                    ErrorCode::BadFile);  // bytes disagree with the shape
  CHECK_THROWS_CODE(parse(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4)),
                    ErrorCode::BadFile);  // data section truncated
  CHECK_THROWS_CODE(parse(file_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)),
                    ErrorCode::BadFile);
  CHECK_THROWS_CODE(parse(file_bytes(R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}})", 8)),
                    ErrorCode::BadFile);  // absurd shape
  CHECK_THROWS_CODE(parse(file_bytes(R"({"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", 8)),
                    ErrorCode::UnsupportedFormat);
  CHECK_THROWS_CODE(parse(file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
                    ErrorCode::BadFile);  // overlap
  CHECK_THROWS_CODE(load_safetensors("/nonexistent/x.safetensors"), ErrorCode::Io);
}

static void f16_conversion_round_trips() {
  // Every finite half converts to f32 and back unchanged.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00u) == 0x7c00u) continue;
    float f = f16_to_f32(uint16_t(h));
    if (f32_to_f16(f) != h) { CHECK(f32_to_f16(f) == h); break; }
  }
  CHECK(f32_to_f16(65520.f) == 0x7c00u);  // rounds up to infinity
  CHECK(f32_to_f16(1.0f + 1.0f / 4096) == 0x3c00u);  // ties to even
}

int main() {
  RUN(round_trip);
  RUN(reads_golden);
  RUN(rejects_malformed);
  RUN(f16_conversion_round_trips);
  return harness::summary();
}
