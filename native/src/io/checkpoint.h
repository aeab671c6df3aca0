// What every checkpoint reader produces: named tensors that point into memory the reader
// keeps alive (an mmap of a safetensors file, a buffer read from a torch zip member).
// Readers: safetensors.h, torch_zip.h (restricted unpickler), sharded.h (index JSON).
// defines: TensorEntry, Checkpoint
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace dimba {

struct TensorEntry {
  DType dtype;
  std::vector<int64_t> shape;   // row-major, contiguous
  const uint8_t* data = nullptr;  // nbytes == product(shape) * dtype_size(dtype)
  size_t nbytes = 0;
};

// Owns the backing storage of its entries; entries stay valid while the Checkpoint lives.
struct Checkpoint {
  std::map<std::string, TensorEntry> tensors;
  std::map<std::string, std::string> metadata;  // safetensors __metadata__, if any
  std::vector<std::shared_ptr<void>> storage;  // mappings and buffers the entries point into

  const TensorEntry* find(const std::string& name) const {
    auto it = tensors.find(name);
    return it == tensors.end() ? nullptr : &it->second;
  }
};

}  // namespace dimba
