// Replays the minimised fuzzing corpus (tests/data/fuzz-corpus/<target>/, grown by
// native/fuzz/run.sh) through the same entry points the fuzzers drove: every input must end
// in success or EngineError. A crash, a sanitizer report (in sanitized builds) or any other
// exception fails the suite, so a bug the fuzzer found once stays fixed.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "../fuzz/fuzz_inputs.h"
#include "harness.h"

using namespace dimba;
namespace fs = std::filesystem;

template <class F>
static void replay(const char* target, F&& one) {
  fs::path dir = fs::path(DIMBA_TEST_DATA_DIR) / "fuzz-corpus" / target;
  CHECK(fs::is_directory(dir));
  if (!fs::is_directory(dir)) return;
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  size_t ok = 0, errors = 0;
  for (const fs::path& p : files) {
    std::ifstream f(p, std::ios::binary);
    std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), {});
    try {
      (one(b.data(), b.size()) == 0 ? ok : errors)++;
    } catch (const std::exception& e) {  // anything but EngineError escaped the reader
      harness::fail(__FILE__, __LINE__, p.filename().string() + ": " + e.what());
    }
  }
  std::printf("    %s: %zu inputs, %zu read cleanly, %zu refused with EngineError\n", target,
              files.size(), ok, errors);
  CHECK(files.size() >= 10);  // an emptied corpus would pass silently otherwise
}

static void safetensors_corpus() { replay("safetensors", fuzz_safetensors_input); }
static void torch_zip_corpus() { replay("torch_zip", fuzz_torch_zip_input); }

int main() {
  RUN(safetensors_corpus);
  RUN(torch_zip_corpus);
  return harness::summary();
}
