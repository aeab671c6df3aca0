// inspect_checkpoint: the golden tiny models are recognised as their kind with nothing missing
// or unexpected; a damaged state dict is still recognised, with each defect named; files that
// are not checkpoints are typed errors.
#include <cstdio>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "harness.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "models/inspect.h"

using namespace dimba;

static void recognises(const char* kind, const std::string& stem) {
  InspectOptions o;
  o.config_path = harness::golden_path(stem + ".json");
  Inspection r = inspect_checkpoint(harness::golden_path(stem + ".weights.safetensors"), o);
  std::printf("    %s: kind %s, %d/%d matched, %zu tensors, %llu bytes\n", stem.c_str(), r.kind.c_str(), r.matched,
              r.expected, r.tensors.size(), (unsigned long long)r.total_bytes);
  CHECK(r.kind == kind);
  CHECK(r.ok());
  CHECK(r.matched == r.expected && r.expected > 0);
  CHECK(r.total_bytes > 0);
}

static void test_golden_kinds() {
  recognises("dimba", "dimba-tiny");
  recognises("t5", "t5-tiny");
  recognises("vae", "vae-tiny");
}

static void test_defects_are_named() {
  Checkpoint ck = load_safetensors(harness::golden_path("dimba-tiny.weights.safetensors"));
  std::string cfg = read_text_file(harness::golden_path("dimba-tiny.json"));
  auto it = ck.tensors.begin();
  std::string removed = it->first;
  ck.tensors.erase(it);
  TensorEntry extra = ck.tensors.begin()->second;
  ck.tensors["extra.weight"] = extra;
  auto& reshaped = std::next(ck.tensors.begin(), 3)->second;
  std::string reshaped_name = std::next(ck.tensors.begin(), 3)->first;
  reshaped.shape.push_back(1);
  Inspection r = inspect_tensors(ck, cfg);
  CHECK(r.kind == "dimba");
  CHECK(!r.ok());
  CHECK(r.missing.size() == 1 && r.missing[0] == removed);
  CHECK(r.unexpected.size() == 1 && r.unexpected[0] == "extra.weight");
  CHECK(r.wrong_shape.size() == 1 && r.wrong_shape[0].rfind(reshaped_name + ": got", 0) == 0);
}

static void test_release_defaults_without_config() {
  // Without a config the tiny model is compared with Dimba-L/2: still Dimba (its names), with
  // every shape reported wrong, so a user sees it is not the release model.
  Inspection r = inspect_checkpoint(harness::golden_path("dimba-tiny.weights.safetensors"));
  CHECK(r.kind == "dimba");
  CHECK(!r.ok());
  CHECK(!r.wrong_shape.empty() || !r.missing.empty());
}

static void test_not_a_checkpoint() {
  std::string path = "/tmp/dimba-test-inspect-" + std::to_string(::getpid()) + ".bin";
  {
    std::ofstream f(path, std::ios::binary);
    f << "this is not a checkpoint at all, just some text";
  }
  bool threw = false;
  try {
    inspect_checkpoint(path);
  } catch (const EngineError& e) {
    threw = e.code == ErrorCode::BadFile || e.code == ErrorCode::UnsupportedFormat;
  }
  std::remove(path.c_str());
  CHECK(threw);
  CHECK_THROWS_CODE(inspect_checkpoint("/nonexistent/dimba-inspect.safetensors"), ErrorCode::Io);
}

int main() {
  RUN(test_golden_kinds);
  RUN(test_defects_are_named);
  RUN(test_release_defaults_without_config);
  RUN(test_not_a_checkpoint);
  return harness::summary();
}
