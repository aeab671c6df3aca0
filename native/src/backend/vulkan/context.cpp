// The Vulkan device, memory, pipelines and command recording (see context.h for the model).
// defines: vk::Context
#ifdef DIMBA_HAVE_VULKAN
#include "backend/vulkan/context.h"

// Vulkan structs are initialised as {sType} and then filled field by field.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace dimba::vk {
namespace {

constexpr uintptr_t kAddrBase = uintptr_t(1) << 44;  // far from any host pointer we would see
constexpr uint32_t kMaxSets = 1024;                  // dispatches per submission before a flush
constexpr uint32_t kMaxBindings = 16;  // the scan's backward binds 14 buffers

void vk_check(VkResult r, const char* what) {
  if (r == VK_SUCCESS) return;
  if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
    throw EngineError(ErrorCode::OutOfMemory, std::string("vulkan: out of memory in ") + what);
  throw EngineError(ErrorCode::Internal, std::string("vulkan: ") + what + " failed (VkResult " +
                                             std::to_string(int(r)) + ")");
}

// VK_KHR_cooperative_matrix is newer than Debian 12's Vulkan headers (1.3.239): the few
// definitions used, with the registry's values, under names of our own so that newer headers
// do not clash.
constexpr const char* kCoopMatExtension = "VK_KHR_cooperative_matrix";
constexpr VkStructureType kCoopMatFeaturesType = VkStructureType(1000506000);
constexpr VkStructureType kCoopMatPropertiesType = VkStructureType(1000506001);
constexpr uint32_t kComponentF16 = 0, kComponentF32 = 1;  // VK_COMPONENT_TYPE_FLOAT16/32_KHR
constexpr uint32_t kScopeSubgroup = 3;                    // VK_SCOPE_SUBGROUP_KHR
struct CoopMatFeatures {  // VkPhysicalDeviceCooperativeMatrixFeaturesKHR
  VkStructureType sType;
  void* pNext;
  VkBool32 cooperativeMatrix, cooperativeMatrixRobustBufferAccess;
};
struct CoopMatProperties {  // VkCooperativeMatrixPropertiesKHR
  VkStructureType sType;
  void* pNext;
  uint32_t M, N, K, A, B, C, result;
  VkBool32 saturating;
  uint32_t scope;
};
using GetCoopMatProperties = VkResult(VKAPI_PTR*)(VkPhysicalDevice, uint32_t*, CoopMatProperties*);

}  // namespace

Context& Context::get() {
  // A failed construction throws and is retried on the next call. Never destroyed: models
  // may outlive static destruction (a JS handle finalised at exit) and free their buffers then;
  // the driver releases the device with the process.
  static Context* ctx = new Context();
  return *ctx;
}

Context::Context() : next_addr_(kAddrBase) {
  load_vulkan();
  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "dimba";
  app.apiVersion = VK_API_VERSION_1_3;  // the highest used (cooperative matrices); 1.1 devices work
  VkInstanceCreateInfo ici{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  ici.pApplicationInfo = &app;
  VkResult r = vkCreateInstance(&ici, nullptr, &instance_);
  if (r != VK_SUCCESS)
    throw EngineError(ErrorCode::BackendUnavailable,
                      "backend 'vulkan' is not available: no Vulkan driver (vkCreateInstance returned " +
                          std::to_string(int(r)) + ")");

  try {
    load_vulkan_instance(instance_);
    init_device();
  } catch (...) {
    release();  // a failed start leaves nothing behind; the next get() tries again
    throw;
  }
}

void Context::init_device() {
  uint32_t n = 0;
  vkEnumeratePhysicalDevices(instance_, &n, nullptr);
  std::vector<VkPhysicalDevice> devs(n);
  if (n) vkEnumeratePhysicalDevices(instance_, &n, devs.data());
  // Prefer a discrete GPU, then integrated, then anything (lavapipe is a CPU device); each
  // must have a compute queue. DIMBA_VULKAN_DEVICE=<index> overrides the choice.
  int best = -1, best_rank = -1;
  uint32_t best_family = 0;
  const char* want = std::getenv("DIMBA_VULKAN_DEVICE");
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(devs[i], &nq, nullptr);
    std::vector<VkQueueFamilyProperties> qs(nq);
    vkGetPhysicalDeviceQueueFamilyProperties(devs[i], &nq, qs.data());
    int family = -1;
    for (uint32_t q = 0; q < nq; ++q)
      if (qs[q].queueFlags & VK_QUEUE_COMPUTE_BIT) { family = int(q); break; }
    if (family < 0) continue;
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(devs[i], &p);
    int rank = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU     ? 3
               : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 2
                                                                        : 1;
    if (want && std::atoi(want) == int(i)) rank = 100;
    if (rank > best_rank) { best = int(i); best_rank = rank; best_family = uint32_t(family); }
  }
  if (best < 0) {
    throw EngineError(ErrorCode::BackendUnavailable,
                      "backend 'vulkan' is not available: no Vulkan device with a compute queue (" +
                          std::to_string(n) + " device(s) found)");
  }
  phys_ = devs[size_t(best)];
  queue_family_ = best_family;
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(phys_, &props);
  device_name_ = props.deviceName;
  cpu_device_ = props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
  max_storage_range_ = props.limits.maxStorageBufferRange;
  for (int i = 0; i < 3; ++i) max_groups_[i] = props.limits.maxComputeWorkGroupCount[i];
  max_bindings_ = props.limits.maxPerStageDescriptorStorageBuffers;
  vkGetPhysicalDeviceMemoryProperties(phys_, &mem_props_);
  query_subgroups(props.apiVersion);
  query_coopmat(props.apiVersion);

  float prio = 1.0f;
  VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  qci.queueFamilyIndex = queue_family_;
  qci.queueCount = 1;
  qci.pQueuePriorities = &prio;
  VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  // Cooperative matrices: the extension, its feature, and the f16 arithmetic and memory model
  // the shader's SPIR-V declares.
  CoopMatFeatures cmf{kCoopMatFeaturesType, nullptr, VK_TRUE, VK_FALSE};
  VkPhysicalDeviceVulkan12Features v12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  const char* coopmat_ext = kCoopMatExtension;
  if (coopmat_.use) {
    v12.shaderFloat16 = VK_TRUE;
    v12.vulkanMemoryModel = VK_TRUE;
    cmf.pNext = &v12;
    dci.pNext = &cmf;
    dci.enabledExtensionCount = 1;
    dci.ppEnabledExtensionNames = &coopmat_ext;
  }
  vk_check(vkCreateDevice(phys_, &dci, nullptr, &device_), "vkCreateDevice");
  vkGetDeviceQueue(device_, queue_family_, 0, &queue_);

  VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = queue_family_;
  vk_check(vkCreateCommandPool(device_, &pci, nullptr, &cmd_pool_), "vkCreateCommandPool");
  VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  cai.commandPool = cmd_pool_;
  cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  cai.commandBufferCount = 1;
  vk_check(vkAllocateCommandBuffers(device_, &cai, &cmd_), "vkAllocateCommandBuffers");
  VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  vk_check(vkCreateFence(device_, &fci, nullptr, &fence_), "vkCreateFence");

  VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kMaxSets * kMaxBindings};
  VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  dpi.maxSets = kMaxSets;
  dpi.poolSizeCount = 1;
  dpi.pPoolSizes = &ps;
  vk_check(vkCreateDescriptorPool(device_, &dpi, nullptr, &desc_pool_), "vkCreateDescriptorPool");

  dummy_ = create_buffer(16, false);
}

void Context::query_subgroups(uint32_t device_api) {
  // Subgroup properties are Vulkan 1.1 (vkGetPhysicalDeviceProperties2 on a 1.1 device). The
  // reductions need basic (subgroupElect, gl_SubgroupID) and arithmetic (subgroupAdd/Max).
  if (device_api < VK_API_VERSION_1_1 || !vkGetPhysicalDeviceProperties2) return;
  VkPhysicalDeviceSubgroupProperties sg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  p2.pNext = &sg;
  vkGetPhysicalDeviceProperties2(phys_, &p2);
  const VkSubgroupFeatureFlags need = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
  subgroup_size_ = sg.subgroupSize;
  subgroup_arithmetic_ = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) && (sg.supportedOperations & need) == need;
  const char* env = std::getenv("DIMBA_VULKAN_SUBGROUPS");
  use_subgroups_ = subgroup_arithmetic_ && !(env && env[0] == '0');
}

void Context::query_coopmat(uint32_t device_api) {
  uint32_t n = 0;
  vkEnumerateDeviceExtensionProperties(phys_, nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> exts(n);
  if (n) vkEnumerateDeviceExtensionProperties(phys_, nullptr, &n, exts.data());
  bool listed = false;
  for (const VkExtensionProperties& e : exts) listed = listed || std::strcmp(e.extensionName, kCoopMatExtension) == 0;
  auto get_props = reinterpret_cast<GetCoopMatProperties>(
      instance_function(instance_, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR"));
  // The shader is SPIR-V for Vulkan 1.3 with f16 arithmetic and the Vulkan memory model.
  bool usable = false;
  std::vector<CoopMatShape> shapes;
  if (listed && get_props && device_api >= VK_API_VERSION_1_3 && vkGetPhysicalDeviceFeatures2) {
    VkPhysicalDeviceVulkan12Features v12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    CoopMatFeatures cmf{kCoopMatFeaturesType, &v12, VK_FALSE, VK_FALSE};
    VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    f2.pNext = &cmf;
    vkGetPhysicalDeviceFeatures2(phys_, &f2);
    usable = cmf.cooperativeMatrix && v12.shaderFloat16 && v12.vulkanMemoryModel;
    uint32_t np = 0;
    if (usable) get_props(phys_, &np, nullptr);
    std::vector<CoopMatProperties> props(np, CoopMatProperties{kCoopMatPropertiesType});
    if (np) get_props(phys_, &np, props.data());
    auto type = [](uint32_t t) {
      return t == kComponentF16 ? CoopMatType::F16 : t == kComponentF32 ? CoopMatType::F32 : CoopMatType::Other;
    };
    for (const CoopMatProperties& p : props)
      shapes.push_back({p.M, p.N, p.K, type(p.A), type(p.B), type(p.C), type(p.result), p.scope == kScopeSubgroup});
  }
  coopmat_ = choose_coopmat(usable, coopmat_shader_built(), shapes);
}

bool Context::set_subgroup_reductions(bool on) {
  use_subgroups_ = on && subgroup_arithmetic_;
  return use_subgroups_;
}

Context::~Context() { release(); }

void Context::release() {
  if (device_) {
    vkDeviceWaitIdle(device_);
    for (auto& [addr, a] : allocs_) destroy(a);
    allocs_.clear();
    if (dummy_.buffer) destroy(dummy_);
    for (auto& [w, p] : pipelines_) {
      vkDestroyPipeline(device_, p.pipeline, nullptr);
      vkDestroyPipelineLayout(device_, p.layout, nullptr);
      vkDestroyDescriptorSetLayout(device_, p.set_layout, nullptr);
    }
    pipelines_.clear();
    // Destroying a null handle is a no-op in Vulkan, so a half-built context releases too.
    vkDestroyDescriptorPool(device_, desc_pool_, nullptr);
    vkDestroyFence(device_, fence_, nullptr);
    vkDestroyCommandPool(device_, cmd_pool_, nullptr);
    vkDestroyDevice(device_, nullptr);
    device_ = VK_NULL_HANDLE;
  }
  if (instance_) vkDestroyInstance(instance_, nullptr);
  instance_ = VK_NULL_HANDLE;
}

Context::Allocation Context::create_buffer(size_t bytes, bool host_visible_only) {
  if (max_storage_range_ && bytes > max_storage_range_)
    throw EngineError(ErrorCode::OutOfMemory, "vulkan: a buffer of " + std::to_string(bytes) +
                                                  " bytes exceeds the device's storage buffer range of " +
                                                  std::to_string(max_storage_range_) + " bytes");
  Allocation a{};
  a.bytes = bytes;
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = bytes;
  bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
              VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  vk_check(vkCreateBuffer(device_, &bci, nullptr, &a.buffer), "vkCreateBuffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device_, a.buffer, &req);
  // Device-local and mappable when the device has it (no staging copies); otherwise
  // device-local behind staging; staging buffers themselves are host-visible + coherent.
  const VkMemoryPropertyFlags hv = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  const VkMemoryPropertyFlags prefs[2][2] = {{VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | hv, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT},
                                             {hv, hv}};
  int type = -1;
  bool mappable = false;
  for (int k = 0; k < 2 && type < 0; ++k) {
    VkMemoryPropertyFlags want = prefs[host_visible_only ? 1 : 0][k];
    for (uint32_t i = 0; i < mem_props_.memoryTypeCount; ++i)
      if ((req.memoryTypeBits & (1u << i)) && (mem_props_.memoryTypes[i].propertyFlags & want) == want) {
        type = int(i);
        mappable = (mem_props_.memoryTypes[i].propertyFlags & hv) == hv;
        break;
      }
  }
  if (type < 0) {
    vkDestroyBuffer(device_, a.buffer, nullptr);
    throw EngineError(ErrorCode::Internal, "vulkan: no suitable memory type");
  }
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = uint32_t(type);
  VkResult r = vkAllocateMemory(device_, &mai, nullptr, &a.memory);
  if (r != VK_SUCCESS) {
    vkDestroyBuffer(device_, a.buffer, nullptr);
    vk_check(r, "vkAllocateMemory");
  }
  vk_check(vkBindBufferMemory(device_, a.buffer, a.memory, 0), "vkBindBufferMemory");
  if (mappable) vk_check(vkMapMemory(device_, a.memory, 0, VK_WHOLE_SIZE, 0, &a.mapped), "vkMapMemory");
  return a;
}

void Context::destroy(Allocation& a) {
  if (a.mapped) vkUnmapMemory(device_, a.memory);
  vkDestroyBuffer(device_, a.buffer, nullptr);
  vkFreeMemory(device_, a.memory, nullptr);
  a = Allocation{};
}

void* Context::alloc(size_t bytes) {
  const size_t size = bytes ? (bytes + 15) / 16 * 16 : 16;
  Allocation a = create_buffer(size, false);
  const uintptr_t addr = next_addr_;
  // A gap of one page after each span, so one-past-the-end never lands in the next buffer.
  next_addr_ += (size + 4095) / 4096 * 4096 + 4096;
  allocs_[addr] = a;
  return reinterpret_cast<void*>(addr);
}

void Context::free(void* p) {
  if (!p) return;
  auto it = allocs_.find(reinterpret_cast<uintptr_t>(p));
  if (it == allocs_.end())
    throw EngineError(ErrorCode::InvalidArgument, "vulkan: free() of a pointer that alloc() did not return");
  if (recording_) submit_and_wait();  // recorded work may still use it
  destroy(it->second);
  allocs_.erase(it);
}

void* Context::scratch(size_t bytes) {
  if (bytes > scratch_bytes_) {
    if (scratch_) free(scratch_);
    scratch_ = nullptr;
    scratch_bytes_ = 0;
    scratch_ = alloc(bytes);
    scratch_bytes_ = bytes;
  }
  return scratch_;
}

const Context::Allocation& Context::find(const void* p, size_t* offset) const {
  const uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  auto it = allocs_.upper_bound(addr);
  if (it != allocs_.begin()) {
    --it;
    if (addr - it->first <= it->second.bytes) {
      *offset = addr - it->first;
      return it->second;
    }
  }
  throw EngineError(ErrorCode::InvalidArgument, "vulkan: a pointer that is not Vulkan device memory was passed to a vulkan op");
}

BufRef Context::resolve(const void* p) const {
  if (!p) return {dummy_.buffer, 0};
  size_t off = 0;
  const Allocation& a = find(p, &off);
  return {a.buffer, off};
}

uint32_t Context::elem_offset(const void* p, size_t elem_bytes) const {
  if (!p) return 0;
  size_t off = resolve(p).offset;
  if (off % elem_bytes || off / elem_bytes > UINT32_MAX)
    throw EngineError(ErrorCode::InvalidArgument, "vulkan: a tensor pointer is not aligned to its element size");
  return uint32_t(off / elem_bytes);
}

void Context::begin_if_needed() {
  if (recording_) return;
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  vk_check(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
  recording_ = true;
}

void Context::submit_and_wait() {
  if (!recording_) return;
  recording_ = false;
  // Make this batch's shader and copy writes available to the host (download of mapped
  // memory) and to whatever the next batch runs; a fence wait alone orders execution only.
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER, nullptr,
                     VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                     VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                         VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       0, 1, &mb, 0, nullptr, 0, nullptr);
  vk_check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cmd_;
  vk_check(vkQueueSubmit(queue_, 1, &si, fence_), "vkQueueSubmit");
  vk_check(vkWaitForFences(device_, 1, &fence_, VK_TRUE, UINT64_MAX), "vkWaitForFences");
  vk_check(vkResetFences(device_, 1, &fence_), "vkResetFences");
  vk_check(vkResetCommandBuffer(cmd_, 0), "vkResetCommandBuffer");
  vk_check(vkResetDescriptorPool(device_, desc_pool_, 0), "vkResetDescriptorPool");
  sets_used_ = 0;
}

void Context::synchronize() { submit_and_wait(); }

void Context::copy_via_staging(VkBuffer dst, size_t dst_off, VkBuffer src, size_t src_off, size_t bytes) {
  begin_if_needed();
  VkBufferCopy c{src_off, dst_off, bytes};
  vkCmdCopyBuffer(cmd_, src, dst, 1, &c);
  submit_and_wait();
}

void Context::upload(void* dst, const void* src, size_t bytes) {
  if (!bytes) return;
  submit_and_wait();  // recorded ops may read or write dst
  size_t off = 0;
  const Allocation& a = find(dst, &off);
  if (off + bytes > a.bytes) throw EngineError(ErrorCode::InvalidArgument, "vulkan: upload past the end of a buffer");
  if (a.mapped) {
    std::memcpy(static_cast<char*>(a.mapped) + off, src, bytes);
    return;
  }
  Allocation st = create_buffer(bytes, true);
  std::memcpy(st.mapped, src, bytes);
  try {
    copy_via_staging(a.buffer, off, st.buffer, 0, bytes);
  } catch (...) {
    destroy(st);
    throw;
  }
  destroy(st);
}

void Context::download(void* dst, const void* src, size_t bytes) {
  if (!bytes) return;
  submit_and_wait();
  size_t off = 0;
  const Allocation& a = find(src, &off);
  if (off + bytes > a.bytes) throw EngineError(ErrorCode::InvalidArgument, "vulkan: download past the end of a buffer");
  if (a.mapped) {
    std::memcpy(dst, static_cast<const char*>(a.mapped) + off, bytes);
    return;
  }
  Allocation st = create_buffer(bytes, true);
  try {
    copy_via_staging(st.buffer, 0, a.buffer, off, bytes);
  } catch (...) {
    destroy(st);
    throw;
  }
  std::memcpy(dst, st.mapped, bytes);
  destroy(st);
}

const Context::Pipeline& Context::pipeline(const Shader& sh) {
  auto it = pipelines_.find(sh.words);
  if (it != pipelines_.end()) return it->second;
  DIMBA_CHECK(sh.n_buffers <= kMaxBindings);
  if (sh.n_buffers > max_bindings_)
    throw EngineError(ErrorCode::BackendUnavailable, std::string("vulkan: shader ") + sh.name + " binds " +
                                                         std::to_string(sh.n_buffers) + " storage buffers, the device " +
                                                         std::to_string(max_bindings_));
  Pipeline p{};
  std::vector<VkDescriptorSetLayoutBinding> b(sh.n_buffers);
  for (uint32_t i = 0; i < sh.n_buffers; ++i)
    b[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  VkDescriptorSetLayoutCreateInfo li{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  li.bindingCount = sh.n_buffers;
  li.pBindings = b.data();
  vk_check(vkCreateDescriptorSetLayout(device_, &li, nullptr, &p.set_layout), "vkCreateDescriptorSetLayout");
  VkPushConstantRange pr{VK_SHADER_STAGE_COMPUTE_BIT, 0, 128};
  VkPipelineLayoutCreateInfo pli{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  pli.setLayoutCount = 1;
  pli.pSetLayouts = &p.set_layout;
  pli.pushConstantRangeCount = 1;
  pli.pPushConstantRanges = &pr;
  vk_check(vkCreatePipelineLayout(device_, &pli, nullptr, &p.layout), "vkCreatePipelineLayout");
  VkShaderModuleCreateInfo smi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  smi.codeSize = sh.n_words * 4;
  smi.pCode = sh.words;
  VkShaderModule mod;
  vk_check(vkCreateShaderModule(device_, &smi, nullptr, &mod), "vkCreateShaderModule");
  VkComputePipelineCreateInfo cpi{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  const VkSpecializationMapEntry local_size{0, 0, 4};
  const VkSpecializationInfo spec{1, &local_size, 4, &subgroup_size_};
  cpi.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_COMPUTE_BIT,
               mod, "main", sh.subgroup_sized ? &spec : nullptr};
  cpi.layout = p.layout;
  VkResult r = vkCreateComputePipelines(device_, VK_NULL_HANDLE, 1, &cpi, nullptr, &p.pipeline);
  vkDestroyShaderModule(device_, mod, nullptr);
  vk_check(r, (std::string("vkCreateComputePipelines(") + sh.name + ")").c_str());
  return pipelines_.emplace(sh.words, p).first->second;
}

void Context::dispatch(const Shader& sh, const std::vector<const void*>& bufs, const void* push, size_t push_bytes,
                       uint32_t gx, uint32_t gy, uint32_t gz) {
  DIMBA_CHECK(bufs.size() == sh.n_buffers && push_bytes <= 128);
  if (gx == 0 || gy == 0 || gz == 0) return;
  if (gx > max_groups_[0] || gy > max_groups_[1] || gz > max_groups_[2])
    throw EngineError(ErrorCode::InvalidArgument, std::string("vulkan: ") + sh.name + ": problem too large for one dispatch");
  const Pipeline& p = pipeline(sh);
  if (sets_used_ == kMaxSets) submit_and_wait();
  begin_if_needed();
  VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  ai.descriptorPool = desc_pool_;
  ai.descriptorSetCount = 1;
  ai.pSetLayouts = &p.set_layout;
  VkDescriptorSet set;
  vk_check(vkAllocateDescriptorSets(device_, &ai, &set), "vkAllocateDescriptorSets");
  ++sets_used_;
  VkDescriptorBufferInfo infos[kMaxBindings];
  VkWriteDescriptorSet writes[kMaxBindings];
  for (uint32_t i = 0; i < sh.n_buffers; ++i) {
    infos[i] = {resolve(bufs[i]).buffer, 0, VK_WHOLE_SIZE};
    writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, nullptr, set, i, 0, 1,
                 VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, nullptr, &infos[i], nullptr};
  }
  vkUpdateDescriptorSets(device_, sh.n_buffers, writes, 0, nullptr);
  vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
  vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0, nullptr);
  if (push_bytes) vkCmdPushConstants(cmd_, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, uint32_t(push_bytes), push);
  vkCmdDispatch(cmd_, gx, gy, gz);
  // Every op reads what the previous one wrote: a full compute->compute barrier.
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER, nullptr, VK_ACCESS_SHADER_WRITE_BIT,
                     VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0,
                       nullptr, 0, nullptr);
}

}  // namespace dimba::vk
#endif  // DIMBA_HAVE_VULKAN
