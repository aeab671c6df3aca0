// What a checkpoint holds, read from its headers only (load_checkpoint maps files and never
// touches tensor data), and which of the engine's architectures it is: the expected tensor
// list of each model (dimba_expected_tensors, t5_expected_tensors, vae_expected_tensors) is
// compared with the file's names and shapes, and the best match is reported with every
// missing, unexpected and mis-shaped tensor. The model manager shows this before a model is
// registered, so a wrong or partial download is caught without loading gigabytes.
// defines: InspectOptions, InspectedTensor, Inspection, inspect_checkpoint, inspect_tensors
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/checkpoint.h"

namespace dimba {

struct InspectOptions {
  // A config JSON (Dimba golden format, T5 or diffusers VAE config.json). Empty: for a folder,
  // its config.json when present; otherwise the release defaults (Dimba-L/2, T5-v1.1-XXL,
  // the SDXL VAE).
  std::string config_path;
};

struct InspectedTensor {
  std::string name;
  std::string dtype;  // "F32", "BF16", ...
  std::vector<int64_t> shape;
  uint64_t nbytes = 0;
};

struct Inspection {
  std::vector<InspectedTensor> tensors;  // sorted by name
  uint64_t total_bytes = 0;
  std::string kind = "unknown";  // "dimba" | "t5" | "vae" | "unknown"
  int matched = 0;               // expected names present with the expected shape
  int expected = 0;              // size of the chosen kind's expected list
  std::vector<std::string> missing;      // expected, absent
  std::vector<std::string> unexpected;   // present, not expected (T5's decoder is ignored)
  std::vector<std::string> wrong_shape;  // "name: got [a, b], expected [c, d]"
  bool ok() const { return kind != "unknown" && missing.empty() && unexpected.empty() && wrong_shape.empty(); }
};

// Throws EngineError (Io, BadFile, UnsupportedFormat) when the file cannot be read as a
// checkpoint at all; a readable checkpoint of the wrong kind is a report, not an error.
Inspection inspect_checkpoint(const std::string& path, const InspectOptions& options = {});

// The comparison alone, on an already loaded checkpoint (tests).
Inspection inspect_tensors(const Checkpoint& ck, const std::string& config_json_text);

}  // namespace dimba
