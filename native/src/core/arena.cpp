// The activation arena (see arena.h). Logical offsets run across chunks: an allocation that
// does not fit the tail of the last chunk skips that tail and starts the next chunk.
#include "core/arena.h"

#include <algorithm>
#include <utility>

namespace dimba {

Arena::Arena(size_t initial_bytes) {
  if (initial_bytes) chunks_.push_back({aligned_alloc_shared(initial_bytes), (initial_bytes + 63) / 64 * 64, 0});
}

Arena::Arena(ArenaMemory memory) : memory_(std::move(memory)) {}

std::shared_ptr<void> Arena::new_chunk(size_t bytes) const {
  return memory_.alloc ? memory_.alloc(bytes) : aligned_alloc_shared(bytes);
}

size_t Arena::capacity() const {
  size_t c = 0;
  for (auto& ch : chunks_) c += ch.size;
  return c;
}

void* Arena::alloc(size_t bytes) {
  bytes = (bytes + 63) / 64 * 64;
  if (bytes == 0) bytes = 64;
  // Find the chunk holding used_ (chunks are in offset order).
  for (size_t i = 0; i < chunks_.size(); ++i) {
    Chunk& ch = chunks_[i];
    if (used_ < ch.begin) used_ = ch.begin;  // skipped tail of the previous chunk
    if (used_ >= ch.begin + ch.size) continue;
    if (used_ + bytes <= ch.begin + ch.size) {
      void* p = static_cast<char*>(ch.mem.get()) + (used_ - ch.begin);
      used_ += bytes;
      peak_ = std::max(peak_, used_);
      return p;
    }
    // Does not fit this chunk's tail: drop any later chunks that are too small and retry.
  }
  size_t begin = chunks_.empty() ? 0 : chunks_.back().begin + chunks_.back().size;
  if (used_ > begin) begin = used_;
  size_t size = std::max(bytes, std::min(std::max(size_t(16) << 20, capacity()), memory_.max_chunk));
  chunks_.push_back({new_chunk(size), size, begin});
  used_ = begin + bytes;
  peak_ = std::max(peak_, used_);
  return chunks_.back().mem.get();
}

Tensor Arena::tensor(DType dtype, std::vector<int64_t> shape) {
  size_t bytes = size_t(shape_numel(shape)) * dtype_size(dtype);
  return Tensor::view(alloc(bytes), dtype, std::move(shape));
}

void Arena::reset(size_t mark) {
  DIMBA_CHECK(mark <= used_);
  used_ = mark;
  if (mark != 0) return;
  // A full reset ends a run: size one chunk to that run's peak if the run needed several
  // chunks (merge) or used well under what is held (a smaller input than before), then
  // measure the next run afresh.
  if ((chunks_.size() > 1 || (peak_ > 0 && capacity() > peak_ + peak_ / 4)) && peak_ <= memory_.max_chunk) {
    chunks_.clear();
    const size_t size = (peak_ + 63) / 64 * 64;
    chunks_.push_back({new_chunk(size), size, 0});
  }
  peak_ = 0;
}

}  // namespace dimba
