// FTZ/DAZ through MXCSR on x86 (bits 15 and 6) and FPCR.FZ on AArch64; a no-op elsewhere.
#include "core/fpenv.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace dimba {

unsigned set_flush_denormals() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned old = _mm_getcsr();
  _mm_setcsr(old | 0x8040u);
  return old;
#elif defined(__aarch64__)
  unsigned long fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  __asm__ volatile("msr fpcr, %0" ::"r"(fpcr | (1ul << 24)));
  return unsigned(fpcr);
#else
  return 0;
#endif
}

void restore_fp_state(unsigned state) {
#if defined(__x86_64__) || defined(__i386__)
  _mm_setcsr(state);
#elif defined(__aarch64__)
  unsigned long fpcr = state;
  __asm__ volatile("msr fpcr, %0" ::"r"(fpcr));
#else
  (void)state;
#endif
}

}  // namespace dimba
