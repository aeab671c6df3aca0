// A ParamSet's tensors where a backend's ops read and write them. The host ParamSet stays the
// one the optimiser, clipping, saving and the tests see; the trainer uploads it before a pass
// and downloads gradients after one. On a host-memory backend (CPU) the mirror is the host
// data itself and upload/download copy nothing. Elsewhere tensors are packed into device
// buffers no larger than the backend's largest (max_buffer_bytes), and each run of tensors
// that is contiguous on the host moves with one copy.
// defines: ParamMirror
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "training/dimba_train.h"

namespace dimba {

class ParamMirror {
 public:
  ParamMirror() = default;
  ParamMirror(const Backend& be, ParamSet& host);

  // The device pointer of a tensor; throws EngineError(InvalidArgument) for an unknown name.
  float* get(const std::string& name) const;
  bool has(const std::string& name) const { return host_ && host_->has(name); }
  // host -> device / device -> host. The layout is re-read first, so a ParamSet that was
  // replaced or re-laid out since (a resumed LoRA, a re-attached one) is followed.
  void upload();
  void download();

 private:
  void place();  // (re)derives the pointers, allocating device buffers where needed

  struct Span {
    float* dev;
    size_t host_offset;  // first element in host_->data
    size_t n;            // elements
  };
  const Backend* be_ = nullptr;
  ParamSet* host_ = nullptr;
  std::vector<float*> ptrs_;
  std::vector<Span> spans_;
  std::vector<std::shared_ptr<void>> storage_;
  const float* placed_data_ = nullptr;  // host_->data.data() when last placed
  size_t placed_size_ = 0;
};

}  // namespace dimba
