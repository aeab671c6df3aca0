// Flush-to-zero / denormals-are-zero for engine threads. MODEL.md section 3: the selective
// scan's exp(delta*A) decays into denormal floats, which x86 handles many times slower, and
// the reference numbers do not depend on them. Set on every ThreadPool worker and, through
// ScopedFlushDenormals, on the thread that calls a forward pass.
// defines: set_flush_denormals, ScopedFlushDenormals
#pragma once

namespace dimba {

// Sets FTZ+DAZ on the calling thread; returns the previous control state (opaque).
unsigned set_flush_denormals();
void restore_fp_state(unsigned state);

// RAII: FTZ/DAZ on for the scope, the caller's previous mode restored after.
struct ScopedFlushDenormals {
  unsigned saved;
  ScopedFlushDenormals() : saved(set_flush_denormals()) {}
  ~ScopedFlushDenormals() { restore_fp_state(saved); }
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;
};

}  // namespace dimba
