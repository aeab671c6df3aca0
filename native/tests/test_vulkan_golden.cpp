// Every golden case of ../shared/golden on the Vulkan backend (lavapipe in CI), through the
// same verify_golden runner as the CPU tests: the Dimba forward (dimba-tiny, dimba-wide: every
// activation and the output), T5 (t5-tiny) and the VAE (vae-tiny: posterior and decode) with
// f32 weights within 1e-4 and 16-bit weight storage within 2e-2 (Dimba bf16 and f16; T5 and
// the VAE bf16, as on the CPU: f16 overflows them). The sampler and tokenizer cases are host
// code on every backend and run as well. So does the training step (dimba-tiny.train: loss
// terms and every gradient within 1e-4 from the forward and backward on Vulkan; CAME's
// parameter changes within 1e-5, computed on the host as on every backend). Exits 77 (ctest:
// skipped) with the reason when there is no Vulkan device; DIMBA_REQUIRE_VULKAN=1 (set by
// native/scripts/test.sh under CI) makes that a failure.
// defines: main (test_vulkan_golden)
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "backend/vulkan/vulkan_backend.h"
#include "harness.h"
#include "verify/golden.h"

using namespace dimba;

namespace {

void check_case(const char* name, DType wdtype) {
  VerifyOptions opt;
  opt.weight_dtype = wdtype;
  opt.backend = "vulkan";
  const auto t0 = std::chrono::steady_clock::now();
  VerifyReport rep = verify_golden(harness::golden_path(""), name, opt);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(!rep.lines.empty());
  double worst = 0;
  for (const CompareLine& l : rep.lines) {
    worst = std::max(worst, l.rel_err);
    if (!l.pass())
      harness::fail(__FILE__, __LINE__, std::string(name) + " " + dtype_name(wdtype) + " " + l.name + " rel_l2 " +
                                            std::to_string(l.rel_err) + " over " + std::to_string(l.tol));
  }
  std::printf("    %-16s %-5s %-9s %2zu tensors, worst rel_l2 %.2e (tol %.0e), %.2f s\n", name, dtype_name(wdtype),
              rep.kind.c_str(), rep.lines.size(), worst, rep.lines.front().tol, s);
}

void dimba_tiny() {
  for (DType d : {DType::F32, DType::BF16, DType::F16}) check_case("dimba-tiny", d);
}
void dimba_wide() {
  for (DType d : {DType::F32, DType::BF16, DType::F16}) check_case("dimba-wide", d);
}
void t5_tiny() {
  for (DType d : {DType::F32, DType::BF16}) check_case("t5-tiny", d);
}
void vae_tiny() {
  for (DType d : {DType::F32, DType::BF16}) check_case("vae-tiny", d);
}
void host_cases() {
  check_case("dpm-solver", DType::F32);
  check_case("tokenizer-cases", DType::F32);
}
void dimba_tiny_train() { check_case("dimba-tiny.train", DType::F32); }

}  // namespace

int main() {
  int skip = 0;
  if (!harness::backend_or_skip("test_vulkan_golden", "DIMBA_REQUIRE_VULKAN", vulkan_backend, &skip)) return skip;
  RUN(dimba_tiny);
  RUN(dimba_wide);
  RUN(t5_tiny);
  RUN(vae_tiny);
  RUN(host_cases);
  RUN(dimba_tiny_train);
  return harness::summary();
}
