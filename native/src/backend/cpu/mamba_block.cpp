// The Mamba block on the CPU: its steps as the CPU's ops (backend/composed.cpp).
// defines: mamba_block_forward
#include "backend/backend.h"

namespace dimba::cpu {

void mamba_block_forward(float* out, const MambaBlockScratch& s, const float* residual, const MambaBlock& m, int B,
                         int N) {
  composed_mamba_block_forward(cpu_backend(), out, s, residual, m, B, N);
}

}  // namespace dimba::cpu
