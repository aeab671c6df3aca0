// libFuzzer target: parse_safetensors over arbitrary bytes (native/fuzz/run.sh builds it).
// defines: LLVMFuzzerTestOneInput
#include "fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dimba::fuzz_safetensors_input(data, size);
  return 0;
}
