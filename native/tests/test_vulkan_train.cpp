// DimbaTrainer on Vulkan against the CPU (backend_train_cases.h). Vulkan's backward has no
// atomics, so a repeated step must give the same gradients bit for bit. Exits 77 (ctest:
// skipped) without a Vulkan device; DIMBA_REQUIRE_VULKAN=1 makes that a failure.
// defines: main (test_vulkan_train)
#include "backend/vulkan/vulkan_backend.h"
#include "backend_train_cases.h"

int main() { return backend_train::run("test_vulkan_train", "DIMBA_REQUIRE_VULKAN", dimba::vulkan_backend, true); }
