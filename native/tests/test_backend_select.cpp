// Backend selection (backend/select.h): what is probed, what auto takes and why, and the typed
// errors for a backend that is missing (BackendUnavailable) or unknown (InvalidArgument).
// Runs with or without a Vulkan or CUDA device: the expectations follow what the probe found.
// defines: main (test_backend_select)
#include <cstdio>

#include "backend/select.h"
#include "harness.h"

using namespace dimba;

namespace {

const BackendProbe& find(const std::vector<BackendProbe>& v, const char* name) {
  for (const BackendProbe& p : v)
    if (p.name == name) return p;
  throw EngineError(ErrorCode::Internal, std::string("no probe for ") + name);
}

void probes_list_every_backend() {
  const std::vector<BackendProbe> found = probe_backends();
  CHECK(found.size() == 3);
  CHECK(find(found, "cpu").available);
  const BackendProbe& cu = find(found, "cuda");
  CHECK(!cu.detail.empty());
  CHECK(cu.available == cu.preferred);  // a CUDA device is always a GPU
  const BackendProbe& vk = find(found, "vulkan");
  CHECK(!vk.detail.empty());
  CHECK(vk.available || !vk.preferred);
  for (const BackendProbe& p : found)
    std::printf("    %-6s available=%d preferred=%d  %s\n", p.name.c_str(), p.available, p.preferred, p.detail.c_str());
}

void auto_takes_a_gpu_else_cpu() {
  const BackendChoice c = choose_backend("auto");
  const BackendProbe& vk = find(c.found, "vulkan");
  const BackendProbe& cu = find(c.found, "cuda");
  CHECK(c.reason.rfind("auto: ", 0) == 0);
  if (cu.available) {
    CHECK(c.backend->name == std::string("cuda"));  // CUDA first
  } else if (vk.available && vk.preferred) {
    CHECK(c.backend->name == std::string("vulkan"));
  } else {
    // lavapipe (a CPU driver) or no device: the CPU backend, and the reason names vulkan's state.
    CHECK(c.backend == &cpu_backend());
    CHECK(c.reason.find("vulkan: " + vk.detail) != std::string::npos);
    CHECK(c.reason.find("cuda: " + cu.detail) != std::string::npos);
  }
  std::printf("    %s\n", c.reason.c_str());
}

void named_backends() {
  CHECK(choose_backend("cpu").backend == &cpu_backend());
  CHECK_THROWS_CODE(choose_backend("metal"), ErrorCode::InvalidArgument);
  if (find(probe_backends(), "cuda").available) {
    CHECK(choose_backend("cuda").backend->name == std::string("cuda"));
  } else {
    CHECK_THROWS_CODE(choose_backend("cuda"), ErrorCode::BackendUnavailable);
    CHECK_THROWS_CODE(find_backend("cuda"), ErrorCode::BackendUnavailable);
  }
  if (find(probe_backends(), "vulkan").available)
    CHECK(choose_backend("vulkan").backend->name == std::string("vulkan"));
  else
    CHECK_THROWS_CODE(choose_backend("vulkan"), ErrorCode::BackendUnavailable);
}

}  // namespace

int main() {
  RUN(probes_list_every_backend);
  RUN(auto_takes_a_gpu_else_cpu);
  RUN(named_backends);
  return harness::summary();
}
