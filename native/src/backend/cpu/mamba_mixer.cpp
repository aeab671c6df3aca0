// The Mamba mixer on the CPU: its steps as the CPU's ops (backend/composed.cpp).
// defines: mamba_mixer_forward
#include "backend/backend.h"

namespace dimba::cpu {

void mamba_mixer_forward(float* out, const MambaMixerScratch& s, const float* h, const MambaMixer& m, int B, int N) {
  composed_mamba_mixer_forward(cpu_backend(), out, s, h, m, B, N);
}

}  // namespace dimba::cpu
