// A tensor is plain data: a dtype, a row-major shape and a pointer to contiguous elements.
// It either owns its storage (a shared, 64-byte aligned allocation) or is a view into memory
// someone else keeps alive (an arena, a mapped checkpoint, a caller's buffer). Ops never take
// Tensors: they take raw pointers and sizes (backend/cpu/ops.h); Tensor is for the code that
// wires ops together and for the API boundary.
// defines: Tensor, shape_numel, shape_str, aligned_alloc_shared, convert_to_f32, convert_from_f32
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace dimba {

// Product of the dims; throws InvalidArgument on a negative dim or an overflow past 2^62,
// so that a hostile shape never becomes a small allocation.
int64_t shape_numel(const std::vector<int64_t>& shape);
std::string shape_str(const std::vector<int64_t>& shape);  // "[2, 16, 64]"

// `bytes` of uninitialised memory, 64-byte aligned, freed with the last owner.
// Throws OutOfMemory.
std::shared_ptr<void> aligned_alloc_shared(size_t bytes);

struct Tensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // row-major, contiguous
  void* data = nullptr;
  std::shared_ptr<void> storage;  // owner of data; null for a view

  // An owning tensor, uninitialised / zero-filled.
  static Tensor empty(DType dtype, std::vector<int64_t> shape);
  static Tensor zeros(DType dtype, std::vector<int64_t> shape);
  // A non-owning view; `data` must outlive it.
  static Tensor view(void* data, DType dtype, std::vector<int64_t> shape);

  int64_t numel() const { return shape_numel(shape); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype); }
  int ndim() const { return int(shape.size()); }
  int64_t dim(int i) const { return shape[size_t(i < 0 ? i + ndim() : i)]; }
  bool owning() const { return storage != nullptr; }

  float* f32() {
    DIMBA_CHECK(dtype == DType::F32);
    return static_cast<float*>(data);
  }
  const float* f32() const {
    DIMBA_CHECK(dtype == DType::F32);
    return static_cast<const float*>(data);
  }
  // The same storage under another shape of equal numel (shares ownership).
  Tensor reshaped(std::vector<int64_t> new_shape) const;
};

// Element conversions between float storage types (F32/F16/BF16); n elements.
void convert_to_f32(float* dst, const void* src, DType src_dtype, size_t n);
void convert_from_f32(void* dst, DType dst_dtype, const float* src, size_t n);
// A new owning tensor of `dtype` holding `t`'s values (F32/F16/BF16 only).
Tensor to_dtype(const Tensor& t, DType dtype);

}  // namespace dimba
