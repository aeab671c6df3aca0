// A small test harness for the engine's C++ tests (no framework: the GPU machine has no
// extras). Each test file is one executable; main() calls RUN(test_fn) for each case and
// returns harness_summary(), which prints "N passed, N failed".
// defines: CHECK, CHECK_THROWS_CODE, RUN, rel_l2, golden_path, harness_summary, backend_or_skip,
//          selected (DIMBA_TEST_ONLY)
#pragma once
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "backend/backend.h"
#include "core/error.h"

namespace harness {
inline int passed = 0, failed = 0;
inline bool current_ok = true;

inline void fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, what.c_str());
  current_ok = false;
}

// ||a - b|| / ||b||, in double.
inline double rel_l2(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = double(a[i]) - double(b[i]);
    num += d * d;
    den += double(b[i]) * double(b[i]);
  }
  if (den == 0) return std::sqrt(num);
  return std::sqrt(num / den);
}

inline std::string golden_path(const std::string& file) {
  const char* env = std::getenv("DIMBA_GOLDEN_DIR");
  std::string dir = env ? env : DIMBA_GOLDEN_DIR;
  return dir + "/" + file;
}

// The backend `get` opens (cuda_backend, vulkan_backend), or null when it cannot, with the
// reason printed; the test then exits with *exit_code: 77 (ctest: skipped), or 1 where the
// environment variable `require` is "1" (machines where the backend must work).
inline const dimba::Backend* backend_or_skip(const char* test, const char* require, const dimba::Backend& (*get)(),
                                             int* exit_code) {
  try {
    return &get();
  } catch (const dimba::EngineError& e) {
    const bool required = std::getenv(require) && std::getenv(require)[0] == '1';
    std::printf("%s %s: %s\n", required ? "FAIL" : "SKIP", test, e.what());
    if (required) std::printf("(%s=1: the backend must be available here)\n", require);
    *exit_code = required ? 1 : 77;
    return nullptr;
  }
}

// DIMBA_TEST_ONLY=a,b runs only the cases named (a ctest variant that reruns the cases a
// device setting changes, e.g. the CUDA op test under a smaller GPU's shared memory).
inline bool selected(const char* name) {
  const char* only = std::getenv("DIMBA_TEST_ONLY");
  return !only || (std::string(",") + only + ",").find(std::string(",") + name + ",") != std::string::npos;
}

template <class F>
void run(const char* name, F&& fn) {
  if (!selected(name)) return;
  current_ok = true;
  try {
    fn();
  } catch (const dimba::EngineError& e) {
    fail(name, 0, std::string("unexpected EngineError ") + dimba::error_code_name(e.code) +
                      ": " + e.what());
  } catch (const std::exception& e) {
    fail(name, 0, std::string("unexpected exception: ") + e.what());
  }
  std::printf("%s %s\n", current_ok ? "ok  " : "FAIL", name);
  (current_ok ? passed : failed)++;
}

inline int summary() {
  if (passed + failed == 0) {  // a DIMBA_TEST_ONLY that names no case must not pass
    std::printf("no test ran (DIMBA_TEST_ONLY=%s)\n", std::getenv("DIMBA_TEST_ONLY"));
    return 1;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
}  // namespace harness

#define CHECK(cond)                                          \
  do {                                                       \
    if (!(cond)) harness::fail(__FILE__, __LINE__, #cond);   \
  } while (0)

// Checks a relative L2 error against a tolerance and prints it, so logs show the margin.
#define CHECK_REL(got, want, n, tol)                                                        \
  do {                                                                                      \
    double e_ = harness::rel_l2((got), (want), (n));                                        \
    std::printf("    %-40s rel_l2 %.3e (tol %.0e)\n", #got, e_, double(tol));               \
    if (!(e_ <= (tol))) harness::fail(__FILE__, __LINE__, "rel_l2 too large: " #got);       \
  } while (0)

#define CHECK_THROWS_CODE(expr, ecode)                                                      \
  do {                                                                                      \
    bool threw_ = false;                                                                    \
    try {                                                                                   \
      (void)(expr);                                                                         \
    } catch (const dimba::EngineError& e_) {                                                \
      threw_ = true;                                                                        \
      if (e_.code != (ecode))                                                               \
        harness::fail(__FILE__, __LINE__,                                                   \
                      std::string("wrong code ") + dimba::error_code_name(e_.code) + ": " + \
                          e_.what());                                                       \
    }                                                                                       \
    if (!threw_) harness::fail(__FILE__, __LINE__, "did not throw: " #expr);                \
  } while (0)

#define RUN(fn) harness::run(#fn, fn)
