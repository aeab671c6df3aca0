#include "verify/cases.h"

namespace dimba {

// Each kind is defined in its own file (verify/<kind>_case.cpp).
// extern const GoldenKind kDimbaCase;  ... one line per kind
extern const GoldenKind kDimbaCase;    // dimba_case.cpp
extern const GoldenKind kSamplerCase;  // sampler_case.cpp
extern const GoldenKind kTrainCase;    // train_case.cpp

const std::vector<GoldenKind>& golden_kinds() {
  static const std::vector<GoldenKind> kinds = {
      kDimbaCase,
      kTrainCase,  // after dimba: a CASE with io goldens is a forward case; CASE.train names its step
      kSamplerCase,
  };
  return kinds;
}

}  // namespace dimba
