// One entry point for every checkpoint the studio reads: Dimba's torch.save .pt files
// (a dict with a `state_dict` key), T5's sharded pytorch_model-*.bin / safetensors with an
// index JSON, the SDXL VAE's diffusion_pytorch_model.{safetensors,bin}, or a Hugging Face
// folder holding any of them. The format is chosen from the file's first bytes, not its
// extension. Tensors are zero-copy views of the mapped files where possible.
// defines: LoadOptions, load_checkpoint, parse_torch_checkpoint
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/checkpoint.h"

namespace dimba {

struct LoadOptions {
  // A tensor is loaded when its name (after unwrapping `state_dict`) starts with one of
  // `prefixes` (any name when empty) and `keep` (when set) accepts it. Tensors that are
  // filtered out are never read: their mapped pages are not touched, and a shard that
  // holds only such tensors is never opened (T5's decoder in a full T5 checkpoint).
  std::vector<std::string> prefixes;
  std::function<bool(const std::string&)> keep;

  bool wants(const std::string& name) const;
};

// Dispatches on content: safetensors, torch zip (.pt/.pth/.bin), an index JSON
// ({"weight_map": {name: shard}}; shards of either format in the same folder), or a folder
// (model.safetensors, pytorch_model.bin, diffusion_pytorch_model.*, or their index).
// Torch specifics: the pickle is read by the restricted unpickler (io/pickle.h); a
// top-level dict's `state_dict` (else `model`) dict is unwrapped; non-tensor values are
// ignored; non-contiguous or misaligned views are copied to a contiguous buffer; float64
// tensors are converted to float32 (the engine has no f64 math) and bool to uint8; int8 and
// int16 tensors are refused. Legacy pre-1.6 torch files are refused with a hint.
// Throws EngineError: Io (cannot open/map), BadFile (malformed, truncated, lying),
// UnsupportedFormat (a pickle global, dtype or format we do not read; named).
Checkpoint load_checkpoint(const std::string& path, const LoadOptions& options = {});

// A torch.save zip already in memory (fuzzing, tests); `keep` owns the bytes.
Checkpoint parse_torch_checkpoint(const uint8_t* bytes, size_t size, std::shared_ptr<void> keep,
                                  const std::string& what, const LoadOptions& options = {});

}  // namespace dimba
