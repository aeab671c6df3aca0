// Weight placement, backend arenas and input/output staging (see backend_io.h).
// defines: backend_arena, WeightPlacer::place, output_buffer, stage_out, host_view
#include "models/backend_io.h"

#include <algorithm>

namespace dimba {
namespace {

// A device buffer owned like host storage: freed through its backend when the last owner goes.
std::shared_ptr<void> device_owned(const Backend& be, void* p) {
  auto release = be.free;
  return std::shared_ptr<void>(p, [release](void* q) { release(q); });
}

}  // namespace

std::unique_ptr<Arena> backend_arena(const Backend& be) {
  if (be.host_memory) return std::make_unique<Arena>();
  ArenaMemory mem;
  const Backend* b = &be;
  mem.alloc = [b](size_t bytes) { return device_owned(*b, b->alloc(bytes)); };
  mem.max_chunk = be.max_buffer_bytes() / 64 * 64;
  return std::make_unique<Arena>(std::move(mem));
}

const void* WeightPlacer::place(const void* host, size_t bytes) {
  if (be_.host_memory || !host) return host;
  const size_t need = std::max<size_t>(64, (bytes + 63) / 64 * 64);
  const size_t cap = std::min<size_t>(size_t(64) << 20, be_.max_buffer_bytes() / 64 * 64);
  char* p;
  if (need > cap) {  // a tensor bigger than a pool: its own buffer (alloc refuses one too big)
    p = static_cast<char*>(be_.alloc(bytes));
    storage_.push_back(device_owned(be_, p));
  } else {
    if (!pool_ || pool_used_ + need > pool_bytes_) {
      pool_bytes_ = std::min(cap, std::max({need, size_t(1) << 20, 2 * pool_bytes_}));
      pool_ = static_cast<char*>(be_.alloc(pool_bytes_));
      storage_.push_back(device_owned(be_, pool_));
      pool_used_ = 0;
    }
    p = pool_ + pool_used_;
    pool_used_ += need;
  }
  be_.upload(p, host, bytes);
  return p;
}

float* output_buffer(const Backend& be, Arena& arena, float* host, size_t n) {
  return be.host_memory ? host : arena.alloc_f32(n);
}

void stage_out(const Backend& be, float* host, const float* dev, size_t n) {
  if (host != dev) be.download(host, dev, n * sizeof(float));
}

const float* host_view(const Backend& be, const float* dev, size_t n, std::vector<float>& tmp) {
  if (be.host_memory) return dev;
  tmp.resize(n);
  be.download(tmp.data(), dev, n * sizeof(float));
  return tmp.data();
}

}  // namespace dimba
