// Backend probing and choice (see select.h).
// defines: probe_backends, choose_backend
#include "backend/select.h"

#include "backend/cuda/cuda_backend.h"
#include "backend/vulkan/vulkan_backend.h"
#include "core/error.h"

namespace dimba {

std::vector<BackendProbe> probe_backends() {
  std::vector<BackendProbe> found;
  found.push_back({"cpu", true, true, "the reference backend"});
  BackendProbe vk{"vulkan", false, false, ""};
  try {
    const VulkanDeviceInfo d = vulkan_device_info();
    vk.available = true;
    vk.preferred = !d.cpu;
    vk.detail = (d.cpu ? d.name + ", a CPU driver (slower than the cpu backend)" : d.name) + "; " + d.kernels;
  } catch (const EngineError& e) {
    vk.detail = e.what();
  }
  found.push_back(vk);
  BackendProbe cu{"cuda", false, false, ""};
  try {
    const CudaDeviceInfo d = cuda_device_info();
    cu.available = cu.preferred = true;
    cu.detail = d.name + " (sm_" + std::to_string(d.sm) + ", " + std::to_string(d.memory_bytes >> 20) + " MiB); " + d.cublas;
  } catch (const EngineError& e) {
    cu.detail = e.what();
  }
  found.push_back(cu);
  return found;
}

BackendChoice choose_backend(const std::string& setting) {
  if (setting != "auto" && setting != "cpu" && setting != "vulkan" && setting != "cuda")
    throw EngineError(ErrorCode::InvalidArgument,
                      "backend must be auto, cpu, vulkan or cuda, not '" + setting + "'");
  BackendChoice c;
  c.found = probe_backends();
  auto probe = [&](const std::string& n) -> const BackendProbe& {
    for (const BackendProbe& p : c.found)
      if (p.name == n) return p;
    DIMBA_CHECK(false);
    return c.found.front();
  };
  if (setting != "auto") {
    const BackendProbe& p = probe(setting);
    if (!p.available)
      throw EngineError(ErrorCode::BackendUnavailable, setting == "vulkan" || setting == "cuda" ? p.detail : "backend '" + setting + "' is not available: " + p.detail);
    c.backend = &find_backend(setting);
    c.reason = setting + ": as asked" + (setting == "cpu" ? "" : " (" + p.detail + ")");
    return c;
  }
  std::string passed;
  for (const char* n : {"cuda", "vulkan"}) {
    const BackendProbe& p = probe(n);
    if (p.available && p.preferred) {
      c.backend = &find_backend(n);
      c.reason = std::string("auto: ") + n + " (" + p.detail + ")" + (passed.empty() ? "" : "; passed by " + passed);
      return c;
    }
    passed += (passed.empty() ? "" : "; ") + std::string(n) + ": " + p.detail;
  }
  c.backend = &cpu_backend();
  c.reason = "auto: cpu (" + passed + ")";
  return c;
}

}  // namespace dimba
