// Device placement of a ParamSet (see param_mirror.h).
// defines: ParamMirror members
#include "training/param_mirror.h"

#include "core/error.h"

namespace dimba {

ParamMirror::ParamMirror(const Backend& be, ParamSet& host) : be_(&be), host_(&host) { place(); }

void ParamMirror::place() {
  const ParamSet& h = *host_;
  if (placed_data_ == h.data.data() && placed_size_ == h.data.size() && ptrs_.size() == h.count()) return;
  ptrs_.assign(h.count(), nullptr);
  spans_.clear();
  storage_.clear();
  placed_data_ = h.data.data();
  placed_size_ = h.data.size();
  if (be_->host_memory) {
    for (size_t i = 0; i < h.count(); ++i) ptrs_[i] = host_->at(i);
    return;
  }
  // Group tensors into runs contiguous on the host and small enough for one device buffer.
  const size_t cap = be_->max_buffer_bytes() / sizeof(float);
  size_t i = 0;
  while (i < h.count()) {
    size_t j = i + 1, n = h.numel(i);
    while (j < h.count() && h.offsets[j] == h.offsets[j - 1] + h.numel(j - 1) && n + h.numel(j) <= cap)
      n += h.numel(j++);
    void* buf = be_->alloc(n ? n * sizeof(float) : sizeof(float));  // a tensor over the cap: alloc refuses it
    auto release = be_->free;
    storage_.push_back(std::shared_ptr<void>(buf, [release](void* p) { release(p); }));
    float* dev = static_cast<float*>(buf);
    spans_.push_back({dev, h.offsets[i], n});
    for (size_t k = i; k < j; ++k) ptrs_[k] = dev + (h.offsets[k] - h.offsets[i]);
    i = j;
  }
}

float* ParamMirror::get(const std::string& name) const {
  auto it = host_->index.find(name);
  if (it == host_->index.end()) throw EngineError(ErrorCode::InvalidArgument, "no parameter named " + name);
  return ptrs_[it->second];
}

void ParamMirror::upload() {
  place();
  for (const Span& s : spans_)
    if (s.n) be_->upload(s.dev, host_->data.data() + s.host_offset, s.n * sizeof(float));
}

void ParamMirror::download() {
  place();
  for (const Span& s : spans_)
    if (s.n) be_->download(host_->data.data() + s.host_offset, s.dev, s.n * sizeof(float));
}

}  // namespace dimba
