// The Vulkan backend's public face: its op table, and whether this build has it at all.
// The whole Vulkan part is optional (native/CMakeLists.txt): without glslc or the Vulkan
// headers the engine builds with DIMBA_HAVE_VULKAN undefined, and vulkan_backend()
// throws a clear EngineError instead of the table.
// defines: vulkan_backend, vulkan_compiled_in, VulkanDeviceInfo, vulkan_device_info
#pragma once
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
};
VulkanDeviceInfo vulkan_device_info();

}  // namespace dimba
