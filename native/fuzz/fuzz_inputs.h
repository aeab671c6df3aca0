// What one fuzz input does to the checkpoint readers, shared by the libFuzzer targets
// (fuzz_*.cpp) and the corpus regression test (tests/test_fuzz_corpus.cpp), so that the
// suite replays exactly what was fuzzed. An input may end in success or EngineError; any
// other exception, a crash or a sanitizer report is a bug.
// defines: fuzz_safetensors_input, fuzz_torch_zip_input
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "io/load_checkpoint.h"
#include "io/pickle.h"
#include "io/safetensors.h"

namespace dimba {

// Reads every byte of every tensor, so that a pointer or size outside the input shows up
// under AddressSanitizer.
inline unsigned fuzz_touch(const Checkpoint& ck) {
  unsigned sum = 0;
  for (auto& [name, t] : ck.tensors)
    for (size_t i = 0; i < t.nbytes; ++i) sum += t.data[i];
  return sum;
}

// Returns 0 on success, 1 on EngineError.
inline int fuzz_safetensors_input(const uint8_t* data, size_t size) {
  try {
    volatile unsigned s = fuzz_touch(parse_safetensors(data, size, nullptr, "fuzz"));
    (void)s;
    return 0;
  } catch (const EngineError&) {
    return 1;
  }
}

// The bytes as a whole torch.save zip, and as a bare data.pkl for the unpickler alone
// (mutations of a pickle get through without having to keep a zip consistent).
// Returns 0 when either reading succeeded, 1 when both refused with EngineError.
inline int fuzz_torch_zip_input(const uint8_t* data, size_t size) {
  int errors = 0;
  try {
    volatile unsigned s = fuzz_touch(parse_torch_checkpoint(data, size, nullptr, "fuzz"));
    (void)s;
  } catch (const EngineError&) {
    ++errors;
  }
  try {
    PickleTree t = unpickle_torch(data, size, "fuzz");
    (void)t;
  } catch (const EngineError&) {
    ++errors;
  }
  return errors == 2 ? 1 : 0;
}

}  // namespace dimba
