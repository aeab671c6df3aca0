// `dimba verify-golden DIR CASE`: run one golden case of any kind laid out like
// ../shared/golden and compare every tensor with its relative L2 error.
// Each kind of case (dimba forward, training step, T5, VAE, sampler, tokenizer) lives in
// its own file and is listed once in golden.cpp's table.
// defines: VerifyOptions, CompareLine, VerifyReport, verify_golden, compare_line
#pragma once
#include <string>
#include <vector>

#include "core/dtype.h"

namespace dimba {

struct VerifyOptions {
  DType weight_dtype = DType::F32;  // F32 checks at 1e-4; BF16/F16 weights at 2e-2
  // The backend the model cases (dimba, t5, vae) run on: "cpu", "vulkan", "cuda" or "auto"
  // (backend/select.h; one that is not available throws BackendUnavailable).
  // The sampler and tokenizer cases are host code on every backend; the training case runs
  // its forward and backward on the backend (a backend without the training ops is refused
  // with BackendUnavailable), the loss and CAME on the host.
  std::string backend = "cpu";
};

struct CompareLine {
  std::string name;
  double rel_err;
  double tol;
  bool pass() const { return rel_err <= tol; }  // NaN fails
};

struct VerifyReport {
  std::string kind;  // "dimba", "train", "t5", "vae", "sampler", "tokenizer"
  std::vector<CompareLine> lines;
  bool pass() const {
    if (lines.empty()) return false;
    for (auto& l : lines)
      if (!l.pass()) return false;
    return true;
  }
};

// ||got - want|| / ||want|| over n floats, computed in double.
CompareLine compare_line(const std::string& name, const float* got, const float* want, size_t n, double tol);

// Finds which kind of case DIR/CASE is and runs it. Throws EngineError(InvalidArgument) when
// no kind recognises the files, naming what it looked for.
VerifyReport verify_golden(const std::string& dir, const std::string& name, const VerifyOptions& opt);

}  // namespace dimba
