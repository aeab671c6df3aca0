// libFuzzer target: the torch.save zip reader + restricted unpickler over arbitrary bytes,
// and the unpickler alone (native/fuzz/run.sh builds it).
// defines: LLVMFuzzerTestOneInput
#include "fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dimba::fuzz_torch_zip_input(data, size);
  return 0;
}
