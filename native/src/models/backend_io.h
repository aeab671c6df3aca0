// What lets one model forward run on any backend (backend/backend.h): weights placed in the
// backend's memory at load, activations in an arena of the backend's memory, and inputs and
// outputs staged through upload/download where the backend's memory is not the host's. On
// the CPU backend every helper here returns the host pointer it was given, so the CPU path
// makes no copy it did not make before.
// defines: backend_arena, WeightPlacer, stage_in, output_buffer, stage_out, host_view
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "core/arena.h"

namespace dimba {

// An activation arena in `be`'s memory; each chunk within the backend's largest buffer.
std::unique_ptr<Arena> backend_arena(const Backend& be);

// Places bound weights where `be`'s ops read them: on a host-memory backend the host pointer
// itself; elsewhere a copy carved from device pools (growing from 1 MiB to 64 MiB, or the
// backend's largest buffer if smaller; a larger tensor gets its own buffer). The pools are
// owned by `storage` and freed with it.
class WeightPlacer {
 public:
  WeightPlacer(const Backend& be, std::vector<std::shared_ptr<void>>& storage) : be_(be), storage_(storage) {}
  const void* place(const void* host, size_t bytes);
  const float* place_f32(const float* host, size_t n) { return static_cast<const float*>(place(host, n * 4)); }
  bool on_host() const { return be_.host_memory; }

 private:
  const Backend& be_;
  std::vector<std::shared_ptr<void>>& storage_;
  char* pool_ = nullptr;
  size_t pool_bytes_ = 0, pool_used_ = 0;
};

// Host input `host` (n elements of T) where `be`'s ops can read it: itself on a host-memory
// backend, else a copy in `arena` (valid until the arena is reset below this point).
template <class T>
const T* stage_in(const Backend& be, Arena& arena, const T* host, size_t n) {
  if (be.host_memory || !host) return host;
  T* d = static_cast<T*>(arena.alloc(n * sizeof(T)));
  be.upload(d, host, n * sizeof(T));
  return d;
}

// Where an op should write what the caller wants in `host` (n floats): `host` itself on a
// host-memory backend, else arena memory to pass to stage_out afterwards.
float* output_buffer(const Backend& be, Arena& arena, float* host, size_t n);
// Copies `dev` to `host` unless they are the same memory (host-memory backend).
void stage_out(const Backend& be, float* host, const float* dev, size_t n);

// A host-readable view of n floats of device data (activation hooks): `dev` itself on a
// host-memory backend, else a download into `tmp`.
const float* host_view(const Backend& be, const float* dev, size_t n, std::vector<float>& tmp);

}  // namespace dimba
