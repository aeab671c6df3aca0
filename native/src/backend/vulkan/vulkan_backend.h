// The Vulkan backend's public face: its op table, and whether this build has it at all.
// The whole Vulkan part is optional (native/CMakeLists.txt): without glslc or the Vulkan
// headers the engine builds with DIMBA_HAVE_VULKAN undefined, and vulkan_backend()
// throws a clear EngineError instead of the table.
// defines: vulkan_backend, vulkan_compiled_in, VulkanDeviceInfo, vulkan_device_info,
//          vulkan_set_subgroup_reductions
#pragma once
#include <cstdint>
#include <string>

#include "backend/backend.h"

namespace dimba {

// True when this engine was built with the Vulkan backend.
bool vulkan_compiled_in();

// The Vulkan backend (first call creates the instance and picks a device). Throws
// EngineError(BackendUnavailable) when the engine was built without Vulkan or when no Vulkan
// device with compute exists; the message says which. Ops the backend lacks are null.
const Backend& vulkan_backend();

// The device vulkan_backend() runs on: its name, and whether it is a CPU driver (lavapipe),
// which runs the shaders far slower than the CPU backend runs its own kernels. Throws as
// vulkan_backend() does.
struct VulkanDeviceInfo {
  std::string name;
  bool cpu = false;
  uint32_t subgroup_size = 0;        // 0 where the device has no Vulkan 1.1 subgroup properties
  bool subgroup_arithmetic = false;  // subgroupAdd/Max in compute shaders
  bool subgroup_reductions = false;  // the norms and softmax rows use them now
  std::string kernels;               // e.g. "reductions: subgroup (8 wide)", for device descriptions
};
VulkanDeviceInfo vulkan_device_info();

// Turns the subgroup reduction shaders on or off (on only where the device has subgroup
// arithmetic) and returns whether they are now in use. The default is chosen at device setup
// (on where supported; DIMBA_VULKAN_SUBGROUPS=0 turns it off); the op tests and bench_vulkan
// switch it to run both variants in one process. Throws as vulkan_backend() does.
bool vulkan_set_subgroup_reductions(bool on);

}  // namespace dimba
