#include "verify/cases.h"

namespace dimba {

// Each kind is defined in its own file (verify/<kind>_case.cpp).
// extern const GoldenKind kDimbaCase;  ... one line per kind
extern const GoldenKind kDimbaCase;    // dimba_case.cpp
extern const GoldenKind kSamplerCase;  // sampler_case.cpp
extern const GoldenKind kTrainCase;    // train_case.cpp
extern const GoldenKind kT5Case;         // t5_case.cpp
extern const GoldenKind kTokenizerCase;  // tokenizer_case.cpp
extern const GoldenKind kVaeCase;      // vae_case.cpp

const std::vector<GoldenKind>& golden_kinds() {
  static const std::vector<GoldenKind> kinds = {
      kVaeCase,  // before dimba: dimba's detector accepts any CASE.json + weights + io
      kT5Case,  // before dimba: same file names; t5 checks model_type
      kDimbaCase,
      kTrainCase,  // after dimba: a CASE with io goldens is a forward case; CASE.train names its step
      kSamplerCase,
      kTokenizerCase,
  };
  return kinds;
}

}  // namespace dimba
