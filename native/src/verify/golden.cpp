#include "verify/golden.h"

#include <cmath>

#include "core/error.h"
#include "verify/cases.h"

namespace dimba {

CompareLine compare_line(const std::string& name, const float* got, const float* want, size_t n, double tol) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = double(got[i]) - double(want[i]);
    num += d * d;
    den += double(want[i]) * double(want[i]);
  }
  double err = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  return {name, err, tol};
}

VerifyReport verify_golden(const std::string& dir, const std::string& name, const VerifyOptions& opt) {
  std::string looked;
  for (const GoldenKind& k : golden_kinds()) {
    if (k.detect(dir, name)) return k.run(dir, name, opt);
    looked += std::string("\n  ") + k.kind + ": " + k.layout;
  }
  throw EngineError(ErrorCode::InvalidArgument,
                    "no golden case '" + name + "' in " + dir + "; looked for:" + looked);
}

}  // namespace dimba
