// A model manifest: one small JSON file that says which parts make a text-to-image model
// (the Dimba config and weights, the T5 folder and its spiece.model, the VAE folder), the
// recipe defaults (steps, guidance, sampler, size) and the resolutions it was trained at, so
// that the reference release (ckpts/dimba-l-512.pt, ckpts/t5-v1_1-xxl/, ckpts/vae/) or a
// user's own model can be pointed at with one path. Example: pipeline/dimba-l-512.manifest.json.
//
//   {
//     "format": "dimba-model-manifest", "version": 1,
//     "id": "dimba-l-512", "name": "Dimba-L 512px",
//     "resolution": 512,                       // what the checkpoint was trained at
//     "dimba": {"config": "dimba-l-2", "weights": "ckpts/dimba-l-512.pt"},
//     "text_encoder": {"folder": "ckpts/t5-v1_1-xxl", "tokenizer": "ckpts/t5-v1_1-xxl/spiece.model"},
//     "vae": {"folder": "ckpts/vae"},
//     "defaults": {"steps": 20, "guidance": 4.5, "sampler": "dpm++2m", "width": 512, "height": 512}
//   }
//
// Paths: relative ones are resolved against the manifest's folder; absolute ones are taken as
// they are (user models live anywhere, so nothing is confined to the manifest's folder). Every
// referenced file or folder must exist: a missing one is EngineError(Io) naming the field and
// the resolved path. `dimba.config` is the preset "dimba-l-2", a golden-style config object
// inline, or a path to such a JSON file. The checkpoint's resolution fixes the position
// embedding's pe_interpolation (resolution / 512) and base size (input_size = resolution / 8)
// unless the config states them: the reference builds Dimba-L at 512/1024/2048 px that way
// (MODEL.md 2), and the forward rescales to any other size from there.
// "vae": null makes a pixel-space model (the built-in one, assets/builtin): the Dimba samples
// the RGB image itself; its resolution may then be as small as 8.
// The built-in model's own manifest (format "dimba-builtin-manifest", which adds its training
// recipe and evaluation) is read the same way.
// defines: ManifestDefaults, ModelManifest, load_manifest, parse_manifest, fnv1a64_hex
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/dimba.h"

namespace dimba {

struct ManifestDefaults {
  int steps = 20;
  double guidance = 4.5;
  std::string sampler = "dpm++2m";
  int width = 512;
  int height = 512;
};

struct ModelManifest {
  std::string path;        // the manifest file ("" when parsed from memory)
  std::string id;          // stable identifier, e.g. "dimba-l-512"
  std::string name;        // for people
  std::string hash;        // "fnv1a64:<hex>" of the manifest's bytes (recorded in recipes)
  int resolution = 512;    // native resolution (px)
  DimbaConfig dimba;       // with pe_interpolation / input_size resolved
  std::string dimba_weights;   // absolute or as given: .pt / .safetensors / index / folder
  std::string t5_folder;       // config.json + weights
  std::string tokenizer;       // spiece.model
  std::string vae_folder;      // config.json + diffusion_pytorch_model.*; "" in pixel space
  bool pixel_space = false;    // "vae": null
  ManifestDefaults defaults;
};

// Reads and validates a manifest file. Errors: Io (the manifest or a referenced path cannot be
// found / read), BadFile (malformed JSON, a missing or mistyped field, named as "dimba.weights"),
// InvalidArgument (a config value out of range).
ModelManifest load_manifest(const std::string& path);

// The same from text; relative paths are resolved against `base_dir`. With check_files false,
// referenced paths are resolved but not required to exist (tests of the shipped manifest).
ModelManifest parse_manifest(const std::string& text, const std::string& base_dir, const std::string& what,
                             bool check_files = true);

// "fnv1a64:<16 hex>" of bytes: a cheap content fingerprint (not a security hash).
std::string fnv1a64_hex(const std::string& bytes);

}  // namespace dimba
