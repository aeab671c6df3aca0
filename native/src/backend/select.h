// Choosing the compute backend from a setting ("auto", "cpu", "vulkan", "cuda"): what this
// build and machine offer, and which backend a setting leads to with the reason, so that the
// CLI, the pipeline and the addon choose the same way and can say why.
// defines: BackendProbe, BackendChoice, probe_backends, choose_backend
#pragma once
#include <string>
#include <vector>

#include "backend/backend.h"

namespace dimba {

struct BackendProbe {
  std::string name;        // "cpu", "vulkan", "cuda"
  bool available = false;  // usable in this process
  bool preferred = false;  // auto takes it over the CPU backend (a GPU, not a CPU Vulkan driver)
  std::string detail;      // the device found, or why there is none
};

struct BackendChoice {
  const Backend* backend = nullptr;
  std::string reason;  // e.g. "auto: cpu (cuda: ... no CUDA device ...; vulkan: llvmpipe ... is a CPU driver ...)"
  std::vector<BackendProbe> found;
};

// cpu (always), vulkan (the device, or why none: not built in, no loader, no driver, no
// device), cuda (the device, or why none: not built in, no driver, no device, no cuBLAS).
// Probing vulkan or cuda starts its device once per process.
std::vector<BackendProbe> probe_backends();

// "auto": cuda, then vulkan on a GPU, else cpu (lavapipe is a Vulkan device on the CPU, slower
// than the CPU backend, so auto passes it by). A named backend is used as named: unavailable
// throws EngineError(BackendUnavailable) saying why; an unknown name throws InvalidArgument.
BackendChoice choose_backend(const std::string& setting);

}  // namespace dimba
