// Header-only inspection and architecture detection (see inspect.h).
#include "models/inspect.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "io/json.h"
#include "io/load_checkpoint.h"
#include "models/dimba.h"
#include "models/t5_encoder.h"
#include "models/vae.h"

namespace dimba {
namespace {

using Expected = std::vector<std::pair<std::string, std::vector<int64_t>>>;

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << '[';
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << ']';
  return o.str();
}

// A full T5 checkpoint also holds the decoder and the LM head, which the encoder never reads;
// Hugging Face T5 files may hold the embedding a second time as encoder.embed_tokens.weight
// (tied to shared.weight; t5_encoder_weights.cpp accepts either).
const char* kT5Embedding = "encoder.embed_tokens.weight";
bool ignored_for(const std::string& kind, const std::string& name) {
  return kind == "t5" && (name.rfind("decoder.", 0) == 0 || name == "lm_head.weight" || name == kT5Embedding);
}

Inspection compare(const Checkpoint& ck, const std::string& kind, const Expected& expected) {
  Inspection r;
  r.kind = kind;
  r.expected = int(expected.size());
  std::set<std::string> wanted;
  for (const auto& [name, shape] : expected) {
    wanted.insert(name);
    const TensorEntry* t = ck.find(name);
    if (!t && kind == "t5" && name == "shared.weight") t = ck.find(kT5Embedding);
    if (!t) {
      r.missing.push_back(name);
    } else if (t->shape != shape) {
      r.wrong_shape.push_back(name + ": got " + shape_str(t->shape) + ", expected " + shape_str(shape));
    } else {
      r.matched++;
    }
  }
  for (const auto& [name, t] : ck.tensors)
    if (!wanted.count(name) && !ignored_for(kind, name)) r.unexpected.push_back(name);
  return r;
}

// Each architecture's expected list for this config text (empty: the release defaults). A
// config that does not parse as that kind's config rules the kind out.
std::vector<std::pair<std::string, Expected>> candidates(const std::string& config_text) {
  std::vector<std::pair<std::string, Expected>> out;
  nlohmann::json j;
  if (!config_text.empty()) j = parse_json_untrusted(config_text, "model config");
  auto attempt = [&](const char* kind, auto make) {
    try {
      out.emplace_back(kind, make());
    } catch (const EngineError&) {
      // not this kind's config
    } catch (const nlohmann::json::exception&) {
    }
  };
  attempt("dimba", [&] { return dimba_expected_tensors(j.is_null() ? DimbaConfig::dimba_l_2(512) : DimbaConfig::from_json(j)); });
  attempt("t5", [&] { return t5_expected_tensors(j.is_null() ? T5Config::xxl() : T5Config::from_json(j)); });
  attempt("vae", [&] { return vae_expected_tensors(j.is_null() ? VaeConfig::sdxl() : VaeConfig::from_json(j)); });
  return out;
}

}  // namespace

Inspection inspect_tensors(const Checkpoint& ck, const std::string& config_json_text) {
  Inspection best;
  // A kind is recognised by its names: the one with the most expected names present wins,
  // so a Dimba checkpoint with one wrong shape is still reported as Dimba, with that shape.
  int best_present = 0;
  for (const auto& [kind, expected] : candidates(config_json_text)) {
    Inspection r = compare(ck, kind, expected);
    int present = r.expected - int(r.missing.size());
    if (present > best_present) {
      best_present = present;
      best = std::move(r);
    }
  }
  if (best_present == 0) {
    best = Inspection{};
    for (const auto& [name, t] : ck.tensors) best.unexpected.push_back(name);
  }
  for (const auto& [name, t] : ck.tensors) {
    best.tensors.push_back({name, dtype_name(t.dtype), t.shape, uint64_t(t.nbytes)});
    best.total_bytes += t.nbytes;
  }
  return best;
}

Inspection inspect_checkpoint(const std::string& path, const InspectOptions& options) {
  namespace fs = std::filesystem;
  std::string config_path = options.config_path;
  std::error_code ec;
  if (config_path.empty() && fs::is_directory(path, ec) && fs::is_regular_file(fs::path(path) / "config.json", ec))
    config_path = (fs::path(path) / "config.json").string();
  std::string config_text = config_path.empty() ? std::string() : read_text_file(config_path, 1u << 20);
  Checkpoint ck = load_checkpoint(path);
  return inspect_tensors(ck, config_text);
}

}  // namespace dimba
