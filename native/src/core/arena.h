// Activation memory: a stack (bump) allocator whose marks let a model free a whole block's
// scratch at once. Blocks run one after another, so `size_t m = arena.mark(); ...block...;
// arena.reset(m);` makes the next block reuse the same bytes, and the peak stays about one
// block's scratch plus the tensors that live across blocks (llm.c keeps activations in one
// allocation the same way; we plan it by running once rather than by formula).
//
// Growth: when a request does not fit, a new chunk is added (existing pointers stay valid).
// reset(0) ends a run: if that run needed several chunks they are merged into one chunk of
// the run's peak, so from the second forward on the arena is a single allocation that never
// grows; peak() then measures the new run.
//
// Memory: host memory by default; a model on another backend gives the backend's allocator
// (ArenaMemory), and the arena then hands out device pointers it never dereferences. A
// backend's largest buffer bounds each chunk: a run whose peak exceeds it keeps several.
// defines: Arena, ArenaMemory
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/tensor.h"

namespace dimba {

struct ArenaMemory {
  std::function<std::shared_ptr<void>(size_t bytes)> alloc;  // null: host memory
  size_t max_chunk = SIZE_MAX;                                // bytes one chunk may have
};

class Arena {
 public:
  explicit Arena(size_t initial_bytes = 0);
  explicit Arena(ArenaMemory memory);

  // 64-byte aligned, uninitialised; valid until a reset() to a mark taken before it.
  void* alloc(size_t bytes);
  float* alloc_f32(size_t n) { return static_cast<float*>(alloc(n * sizeof(float))); }
  // A view tensor carved from the arena.
  Tensor tensor(DType dtype, std::vector<int64_t> shape);

  // A position to return to: everything allocated after it is released by reset().
  size_t mark() const { return used_; }
  void reset(size_t mark);

  size_t used() const { return used_; }           // bytes live now
  size_t peak() const { return peak_; }           // most bytes live at once since reset(0)
  size_t capacity() const;                        // bytes held from the system

 private:
  struct Chunk {
    std::shared_ptr<void> mem;
    size_t size;   // bytes
    size_t begin;  // the arena offset where this chunk starts
  };
  std::shared_ptr<void> new_chunk(size_t bytes) const;

  ArenaMemory memory_;
  std::vector<Chunk> chunks_;
  size_t used_ = 0;  // logical offset: bytes allocated (including alignment and chunk tails)
  size_t peak_ = 0;
};

}  // namespace dimba
