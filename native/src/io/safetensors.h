// safetensors: an 8-byte little-endian header length, a JSON header of
// name -> {dtype, shape, data_offsets}, then the raw bytes. Read through mmap so that
// tensors whose stored dtype is what the engine computes with are used in place.
// defines: load_safetensors, parse_safetensors, save_safetensors
#pragma once
#include <map>
#include <string>

#include "io/checkpoint.h"

namespace dimba {

// Maps the file and validates every entry (dtype known, shape sane, offsets inside the data
// section and matching shape*dtype, no overlaps). Throws EngineError(Io / BadFile /
// UnsupportedFormat) with the file name and the offending tensor.
Checkpoint load_safetensors(const std::string& path);

// The same validation over bytes already in memory (fuzzing, tests); `keep` owns them.
Checkpoint parse_safetensors(const uint8_t* bytes, size_t size, std::shared_ptr<void> keep,
                             const std::string& what);

struct TensorToSave {
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;  // contiguous, product(shape) * dtype_size(dtype) bytes
};

// Writes to `path` + ".tmp", fsyncs, renames: a reader never sees a half-written file.
void save_safetensors(const std::string& path, const std::map<std::string, TensorToSave>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace dimba
