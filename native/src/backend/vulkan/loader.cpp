// The Vulkan loader opened at run time (see loader.h for why).
// defines: vk::load_vulkan, vk::load_vulkan_instance, the vk* function pointers
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/loader.h"

#include <dlfcn.h>

#include <string>

#include "core/error.h"

namespace dimba::vk {

#define DIMBA_VK_DEFINE(name) PFN_##name name = nullptr;
DIMBA_VK_GLOBAL_FUNCS(DIMBA_VK_DEFINE)
DIMBA_VK_INSTANCE_FUNCS(DIMBA_VK_DEFINE)
DIMBA_VK_OPTIONAL_FUNCS(DIMBA_VK_DEFINE)
#undef DIMBA_VK_DEFINE

namespace {
PFN_vkGetInstanceProcAddr get_instance_proc = nullptr;
}

void load_vulkan() {
  if (get_instance_proc) return;
#if defined(__APPLE__)
  const char* names[] = {"libvulkan.1.dylib", "libvulkan.dylib", "libMoltenVK.dylib"};
#else
  const char* names[] = {"libvulkan.so.1", "libvulkan.so"};
#endif
  void* lib = nullptr;
  for (const char* n : names)
    if ((lib = dlopen(n, RTLD_NOW | RTLD_LOCAL))) break;
  if (!lib)
    throw EngineError(ErrorCode::BackendUnavailable,
                      std::string("backend 'vulkan' is not available: the Vulkan loader (") + names[0] +
                          ") is not installed");
  auto gipa = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(lib, "vkGetInstanceProcAddr"));
  if (!gipa)
    throw EngineError(ErrorCode::BackendUnavailable,
                      "backend 'vulkan' is not available: the Vulkan loader lacks vkGetInstanceProcAddr");
#define DIMBA_VK_LOAD(name) name = reinterpret_cast<PFN_##name>(gipa(VK_NULL_HANDLE, #name));
  DIMBA_VK_GLOBAL_FUNCS(DIMBA_VK_LOAD)
#undef DIMBA_VK_LOAD
  if (!vkCreateInstance)
    throw EngineError(ErrorCode::BackendUnavailable, "backend 'vulkan' is not available: no vkCreateInstance");
  get_instance_proc = gipa;  // the library stays open for the life of the process
}

PFN_vkVoidFunction instance_function(VkInstance instance, const char* name) {
  return get_instance_proc ? get_instance_proc(instance, name) : nullptr;
}

void load_vulkan_instance(VkInstance instance) {
#define DIMBA_VK_LOAD(name)                                                                        \
  name = reinterpret_cast<PFN_##name>(get_instance_proc(instance, #name));                         \
  if (!name) throw EngineError(ErrorCode::Internal, "vulkan: the loader has no " #name);
  DIMBA_VK_INSTANCE_FUNCS(DIMBA_VK_LOAD)
#undef DIMBA_VK_LOAD
#define DIMBA_VK_LOAD_OPTIONAL(name) name = reinterpret_cast<PFN_##name>(get_instance_proc(instance, #name));
  DIMBA_VK_OPTIONAL_FUNCS(DIMBA_VK_LOAD_OPTIONAL)
#undef DIMBA_VK_LOAD_OPTIONAL
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
