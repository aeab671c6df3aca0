#include "verify/cases.h"

namespace dimba {

// Each kind is defined in its own file (verify/<kind>_case.cpp).
// extern const GoldenKind kDimbaCase;  ... one line per kind

const std::vector<GoldenKind>& golden_kinds() {
  static const std::vector<GoldenKind> kinds = {};
  return kinds;
}

}  // namespace dimba
