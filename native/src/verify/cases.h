// The table of golden case kinds. A kind is three things: a one-line description of the
// files it expects, a detector, and a runner. Adding a kind: write verify/<kind>_case.cpp
// defining its GoldenKind, declare it here and list it in cases.cpp.
// defines: GoldenKind, golden_kinds
#pragma once
#include <string>
#include <vector>

#include "verify/golden.h"

namespace dimba {

struct GoldenKind {
  const char* kind;
  const char* layout;  // e.g. "CASE.json + CASE.weights.safetensors + CASE.io.safetensors"
  bool (*detect)(const std::string& dir, const std::string& name);
  VerifyReport (*run)(const std::string& dir, const std::string& name, const VerifyOptions& opt);
};

const std::vector<GoldenKind>& golden_kinds();

}  // namespace dimba
