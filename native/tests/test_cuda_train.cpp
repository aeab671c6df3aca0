// DimbaTrainer on CUDA against the CPU (backend_train_cases.h), in the exact mode (f32
// everywhere, the CPU's arithmetic, held to 1e-5). The scan backward sums dB/dC with atomics,
// so a repeated step agrees to rounding, not bit for bit. Exits 77 (ctest: skipped) without a
// CUDA device; DIMBA_REQUIRE_CUDA=1 makes that a failure. Runs on the CPU emulator in every
// build without the real backend (native/tests/cuda_emu).
// defines: main (test_cuda_train)
#include "backend/cuda/cuda_backend.h"
#include "backend_train_cases.h"

int main() {
  const dimba::Backend& (*open)() = [] () -> const dimba::Backend& {
    const dimba::Backend& be = dimba::cuda_backend();
    dimba::cuda_set_reduced_precision(false);
    return be;
  };
  return backend_train::run("test_cuda_train", "DIMBA_REQUIRE_CUDA", open, false);
}
