// The Vulkan loader, opened at run time (dlopen) instead of linked: an engine built with the
// Vulkan backend still loads on a machine without libvulkan, and find_backend("vulkan") then
// says so. The engine compiles with VK_NO_PROTOTYPES; the functions the backend calls are
// pointers of the same names, declared here and filled by load_vulkan().
// defines: vk::load_vulkan, the vk* function pointers
#pragma once
#include <vulkan/vulkan.h>

#define DIMBA_VK_GLOBAL_FUNCS(X) X(vkCreateInstance)
#define DIMBA_VK_INSTANCE_FUNCS(X)                                                                     \
  X(vkDestroyInstance) X(vkEnumeratePhysicalDevices) X(vkGetPhysicalDeviceQueueFamilyProperties)       \
  X(vkGetPhysicalDeviceProperties) X(vkGetPhysicalDeviceMemoryProperties) X(vkCreateDevice)            \
  X(vkEnumerateDeviceExtensionProperties)                                                              \
  X(vkAllocateCommandBuffers) X(vkAllocateDescriptorSets) X(vkAllocateMemory) X(vkBeginCommandBuffer) \
  X(vkBindBufferMemory) X(vkCmdBindDescriptorSets) X(vkCmdBindPipeline) X(vkCmdCopyBuffer)             \
  X(vkCmdDispatch) X(vkCmdPipelineBarrier) X(vkCmdPushConstants) X(vkCreateBuffer)                     \
  X(vkCreateCommandPool) X(vkCreateComputePipelines) X(vkCreateDescriptorPool)                         \
  X(vkCreateDescriptorSetLayout) X(vkCreateFence) X(vkCreatePipelineLayout) X(vkCreateShaderModule)    \
  X(vkDestroyBuffer) X(vkDestroyCommandPool) X(vkDestroyDescriptorPool) X(vkDestroyDescriptorSetLayout) \
  X(vkDestroyDevice) X(vkDestroyFence) X(vkDestroyPipeline) X(vkDestroyPipelineLayout)                 \
  X(vkDestroyShaderModule) X(vkDeviceWaitIdle) X(vkEndCommandBuffer) X(vkFreeMemory)                   \
  X(vkGetBufferMemoryRequirements) X(vkGetDeviceQueue) X(vkMapMemory) X(vkQueueSubmit)                 \
  X(vkResetCommandBuffer) X(vkResetDescriptorPool) X(vkResetFences) X(vkUnmapMemory)                   \
  X(vkUpdateDescriptorSets) X(vkWaitForFences)

// Vulkan 1.1 functions a 1.0 loader may lack: loaded when present, null otherwise (the
// backend then keeps to its portable shaders).
#define DIMBA_VK_OPTIONAL_FUNCS(X) X(vkGetPhysicalDeviceProperties2) X(vkGetPhysicalDeviceFeatures2)

namespace dimba::vk {

#define DIMBA_VK_DECLARE(name) extern PFN_##name name;
DIMBA_VK_GLOBAL_FUNCS(DIMBA_VK_DECLARE)
DIMBA_VK_INSTANCE_FUNCS(DIMBA_VK_DECLARE)
DIMBA_VK_OPTIONAL_FUNCS(DIMBA_VK_DECLARE)
#undef DIMBA_VK_DECLARE

// Opens the loader and fills the global functions; throws EngineError(InvalidArgument) naming
// the library when it is missing. Idempotent.
void load_vulkan();
// An instance function the headers may not declare (VK_KHR_cooperative_matrix's, newer than
// Debian 12's headers); null when the loader or driver lacks it. Call after load_vulkan().
PFN_vkVoidFunction instance_function(VkInstance instance, const char* name);
// Fills the instance-level (and, through the loader's dispatch, device-level) functions.
void load_vulkan_instance(VkInstance instance);

}  // namespace dimba::vk
