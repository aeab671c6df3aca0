// The Vulkan device the backend runs on: instance and device selection, buffers behind
// "device pointers", cached compute pipelines, and one command buffer that ops record into.
//
// Device pointers: the op table passes float* with pointer arithmetic (q + C, the adaLN
// table at shift + b*stride), so alloc() hands out addresses in a reserved virtual range,
// one span per VkBuffer; resolve() maps any address inside a span back to (buffer, byte
// offset). Shaders bind whole buffers and take element offsets as push constants, so no
// descriptor offset alignment rule ever applies.
//
// Ordering: ops are recorded into the current command buffer with a compute->compute
// barrier after each dispatch; synchronize(), upload() and download() submit it and wait.
// Not thread-safe: one engine thread drives a backend, as on CPU.
// defines: vk::Context, vk::BufRef, vk::Shader, vk::context
#pragma once
#include "backend/vulkan/coopmat_select.h"
#include "backend/vulkan/loader.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dimba::vk {

// A compiled shader embedded in the engine (SPIR-V words generated at build time).
struct Shader {
  const char* name;
  const uint32_t* words;
  size_t n_words;
  uint32_t n_buffers;  // storage buffers at bindings 0..n-1, all in set 0
  bool subgroup_sized = false;  // local_size_x is specialisation constant 0: the subgroup size
};

// Whether this build embeds shaders/coopmat/linear_coopmat.comp (linear.cpp; native/CMakeLists.txt
// builds it only with a glslc that knows GL_KHR_cooperative_matrix).
bool coopmat_shader_built();

struct BufRef {
  VkBuffer buffer = VK_NULL_HANDLE;
  size_t offset = 0;  // bytes from the buffer's start
};

class Context {
 public:
  static Context& get();  // throws EngineError when no device exists

  void* alloc(size_t bytes);
  void free(void* p);
  void upload(void* dst, const void* src, size_t bytes);
  void download(void* dst, const void* src, size_t bytes);
  void synchronize();

  // A device buffer of at least `bytes` owned by the context, for an op's intermediate (the
  // im2col of patch_embed). Valid until the next scratch() call; growing it waits for the
  // recorded work that may still use the old one.
  void* scratch(size_t bytes);

  // The buffer and byte offset of a device pointer (null -> the dummy buffer, offset 0).
  BufRef resolve(const void* p) const;
  // Element offset of a device pointer for shaders that index elem_bytes-sized elements;
  // throws InvalidArgument when the offset is not a whole number of elements or too large.
  uint32_t elem_offset(const void* p, size_t elem_bytes) const;

  // Records one dispatch: buffers bound at 0..n-1 (null pointers bind a dummy), push
  // constants (at most 128 bytes), groups in x/y/z. A barrier follows it.
  void dispatch(const Shader& sh, const std::vector<const void*>& bufs, const void* push, size_t push_bytes,
                uint32_t gx, uint32_t gy = 1, uint32_t gz = 1);

  // Reduction shaders (norms, softmax rows): the <op>_subgroup.comp variants when the device
  // has subgroup arithmetic in compute (chosen at device setup; DIMBA_VULKAN_SUBGROUPS=0 keeps
  // the portable shared-memory ones), else the portable ones. pick() returns the one in use.
  bool subgroup_reductions() const { return use_subgroups_; }
  bool subgroup_arithmetic() const { return subgroup_arithmetic_; }  // what the device reports
  uint32_t subgroup_size() const { return subgroup_size_; }
  // Switches the reductions (on only where the device has subgroup arithmetic) and returns what
  // is now in use: the op tests and bench_vulkan run both variants in one process.
  bool set_subgroup_reductions(bool on);
  const Shader& pick(const Shader& portable, const Shader& subgroup) const {
    return use_subgroups_ ? subgroup : portable;
  }

  // linear_forward with f16 weights on cooperative matrices (shaders/coopmat/), when
  // choose_coopmat() allowed it at device setup; matmul_path() says which matmul runs and why.
  bool coopmat() const { return coopmat_.use; }
  const std::string& matmul_path() const { return coopmat_.reason; }

  const std::string& device_name() const { return device_name_; }
  bool cpu_device() const { return cpu_device_; }  // VK_PHYSICAL_DEVICE_TYPE_CPU (lavapipe)
  // The largest buffer alloc() accepts (maxStorageBufferRange: every buffer is bound whole).
  size_t max_buffer_bytes() const { return size_t(max_storage_range_); }
  uint32_t max_groups_x() const { return max_groups_[0]; }
  uint32_t max_groups_y() const { return max_groups_[1]; }

  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

 private:
  Context();
  ~Context();

  struct Allocation {
    VkBuffer buffer;
    VkDeviceMemory memory;
    size_t bytes;
    void* mapped;  // non-null when host-visible (lavapipe, integrated GPUs, ReBAR)
  };
  struct Pipeline {
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipeline;
  };

  void init_device();  // picks the device and creates everything after the instance
  void query_subgroups(uint32_t device_api);  // fills subgroup_* and use_subgroups_
  void query_coopmat(uint32_t device_api);     // fills coopmat_
  void release();      // destroys whatever exists (also after a failed start)
  const Allocation& find(const void* p, size_t* offset) const;
  Allocation create_buffer(size_t bytes, bool host_visible_only);
  void destroy(Allocation& a);
  const Pipeline& pipeline(const Shader& sh);
  void begin_if_needed();
  void submit_and_wait();
  void copy_via_staging(VkBuffer dst, size_t dst_off, VkBuffer src, size_t src_off, size_t bytes);

  VkInstance instance_ = VK_NULL_HANDLE;
  VkPhysicalDevice phys_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkCommandPool cmd_pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkDescriptorPool desc_pool_ = VK_NULL_HANDLE;
  bool recording_ = false;
  uint32_t sets_used_ = 0;
  VkPhysicalDeviceMemoryProperties mem_props_{};
  uint64_t max_storage_range_ = 0;
  uint32_t max_groups_[3] = {65535, 65535, 65535};
  uint32_t max_bindings_ = 8;  // maxPerStageDescriptorStorageBuffers
  std::string device_name_;
  bool cpu_device_ = false;
  bool subgroup_arithmetic_ = false;
  bool use_subgroups_ = false;
  uint32_t subgroup_size_ = 0;
  CoopMatChoice coopmat_;

  std::map<uintptr_t, Allocation> allocs_;  // keyed by the span's first address
  uintptr_t next_addr_;
  Allocation dummy_{};
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
  std::map<const uint32_t*, Pipeline> pipelines_;
};

// Ceil division for group counts.
inline uint32_t groups(int64_t n, int64_t per_group) { return uint32_t((n + per_group - 1) / per_group); }

}  // namespace dimba::vk
