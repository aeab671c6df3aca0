// Dimba's attention block on the CPU: its steps as the CPU's ops (backend/composed.cpp).
// defines: dimba_block_forward
#include "backend/backend.h"

namespace dimba::cpu {

void dimba_block_forward(float* x, const DimbaBlockScratch& s, const float* ctx, const int* ctx_lens, const float* t0,
                         const DimbaBlock& w, int B, int N, int L) {
  composed_dimba_block_forward(cpu_backend(), x, s, ctx, ctx_lens, t0, w, B, N, L);
}

}  // namespace dimba::cpu
