// Model manifests: parsing, path resolution and existence checks (see manifest.h for the format).
// defines: load_manifest, parse_manifest, fnv1a64_hex
#include "pipeline/manifest.h"

#include <sys/stat.h>

#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "io/json.h"
#include "sampling/cfg.h"
#include "sampling/sampler.h"

namespace dimba {
namespace {

[[noreturn]] void bad(const std::string& what, const std::string& msg) {
  throw EngineError(ErrorCode::BadFile, what + ": " + msg);
}

const nlohmann::json* member(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string get_string(const nlohmann::json& j, const char* key, const std::string& field, const std::string& what,
                       bool required, const std::string& def = "") {
  const nlohmann::json* v = member(j, key);
  if (!v) {
    if (required) bad(what, field + " is missing");
    return def;
  }
  if (!v->is_string() || v->get<std::string>().empty()) bad(what, field + " must be a non-empty string");
  return v->get<std::string>();
}

const nlohmann::json& get_object(const nlohmann::json& j, const char* key, const std::string& what) {
  const nlohmann::json* v = member(j, key);
  if (!v) bad(what, std::string(key) + " is missing");
  if (!v->is_object()) bad(what, std::string(key) + " must be an object");
  return *v;
}

int get_int(const nlohmann::json& j, const char* key, const std::string& field, const std::string& what, int def) {
  const nlohmann::json* v = member(j, key);
  if (!v) return def;
  if (!v->is_number()) bad(what, field + " must be a number");
  double d = v->get<double>();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 1e9) bad(what, field + " must be an integer");
  return int(d);
}

double get_num(const nlohmann::json& j, const char* key, const std::string& field, const std::string& what,
               double def) {
  const nlohmann::json* v = member(j, key);
  if (!v) return def;
  if (!v->is_number() || !std::isfinite(v->get<double>())) bad(what, field + " must be a finite number");
  return v->get<double>();
}

bool is_absolute(const std::string& p) { return !p.empty() && p[0] == '/'; }

std::string resolve(const std::string& base_dir, const std::string& p) {
  if (is_absolute(p) || base_dir.empty()) return p;
  return base_dir + "/" + p;
}

enum class Kind { File, Dir, Any };

void require_exists(const std::string& path, Kind kind, const std::string& field, const std::string& what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    throw EngineError(ErrorCode::Io, what + ": " + field + ": " + path + " does not exist");
  if (kind == Kind::Dir && !S_ISDIR(st.st_mode))
    throw EngineError(ErrorCode::Io, what + ": " + field + ": " + path + " is not a folder");
  if (kind == Kind::File && !S_ISREG(st.st_mode))
    throw EngineError(ErrorCode::Io, what + ": " + field + ": " + path + " is not a file");
}

// dimba.config: a preset name, an inline config object, or a path to a config JSON file.
DimbaConfig parse_dimba_config(const nlohmann::json& v, int resolution, const std::string& base_dir,
                               const std::string& what, bool check_files) {
  nlohmann::json cfg_json;
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "dimba-l-2" || s == "Dimba_L_2") {
      if (resolution != 512 && resolution != 1024 && resolution != 2048)
        bad(what, "the dimba-l-2 preset exists at resolution 512, 1024 or 2048, not " + std::to_string(resolution));
      return DimbaConfig::dimba_l_2(resolution);
    }
    const std::string p = resolve(base_dir, s);
    struct stat st;
    // Unchecked parsing (the shipped manifest's test) has no file to read: Dimba-L stands in.
    if (!check_files && ::stat(p.c_str(), &st) != 0) return DimbaConfig::dimba_l_2(512);
    require_exists(p, Kind::File, "dimba.config", what);
    cfg_json = parse_json_untrusted(read_text_file(p), p);
  } else if (v.is_object()) {
    cfg_json = v;
  } else {
    bad(what, "dimba.config must be \"dimba-l-2\", a config object or a config file path");
  }
  if (!cfg_json.is_object()) bad(what, "dimba.config is not a JSON object");
  // The checkpoint's resolution decides the position-embedding scale unless stated.
  if (!cfg_json.contains("pe_interpolation")) cfg_json["pe_interpolation"] = resolution / 512.0;
  if (!cfg_json.contains("input_size")) cfg_json["input_size"] = resolution / 8;
  return DimbaConfig::from_json(cfg_json);
}

std::string dirname_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

std::string fnv1a64_hex(const std::string& bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return buf;
}

ModelManifest parse_manifest(const std::string& text, const std::string& base_dir, const std::string& what,
                             bool check_files) {
  const nlohmann::json j = parse_json_untrusted(text, what);
  if (!j.is_object()) bad(what, "a model manifest is a JSON object");
  if (const nlohmann::json* f = member(j, "format")) {
    // The built-in model's manifest (assets/builtin) has the same fields plus its training
    // recipe and evaluation, which the pipeline does not read.
    if (!f->is_string() || (f->get<std::string>() != "dimba-model-manifest" && f->get<std::string>() != "dimba-builtin-manifest"))
      bad(what, "format must be \"dimba-model-manifest\" (or \"dimba-builtin-manifest\")");
  }
  const int version = get_int(j, "version", "version", what, 1);
  if (version != 1) bad(what, "version " + std::to_string(version) + " is newer than this engine reads (1)");

  ModelManifest m;
  m.hash = fnv1a64_hex(text);
  m.id = get_string(j, "id", "id", what, true);
  m.name = get_string(j, "name", "name", what, false, m.id);
  m.resolution = get_int(j, "resolution", "resolution", what, 512);
  const nlohmann::json* vae = member(j, "vae");
  m.pixel_space = vae && vae->is_null();
  const int min_resolution = m.pixel_space ? 8 : 64;
  if (m.resolution < min_resolution || m.resolution > 8192 || m.resolution % 8 != 0)
    bad(what, "resolution must be a multiple of 8 in [" + std::to_string(min_resolution) + ", 8192], not " +
                  std::to_string(m.resolution));

  const nlohmann::json& dj = get_object(j, "dimba", what);
  const nlohmann::json* cfg = member(dj, "config");
  if (!cfg) bad(what, "dimba.config is missing");
  m.dimba = parse_dimba_config(*cfg, m.resolution, base_dir, what, check_files);
  m.dimba_weights = resolve(base_dir, get_string(dj, "weights", "dimba.weights", what, true));

  const nlohmann::json& tj = get_object(j, "text_encoder", what);
  m.t5_folder = resolve(base_dir, get_string(tj, "folder", "text_encoder.folder", what, true));
  const std::string tok = get_string(tj, "tokenizer", "text_encoder.tokenizer", what, false);
  m.tokenizer = tok.empty() ? m.t5_folder + "/spiece.model" : resolve(base_dir, tok);

  if (!m.pixel_space) {
    const nlohmann::json& vj = get_object(j, "vae", what);
    m.vae_folder = resolve(base_dir, get_string(vj, "folder", "vae.folder", what, true));
  }

  m.defaults.width = m.defaults.height = m.resolution;
  if (const nlohmann::json* dv = member(j, "defaults")) {
    if (!dv->is_object()) bad(what, "defaults must be an object");
    ManifestDefaults& d = m.defaults;
    d.steps = get_int(*dv, "steps", "defaults.steps", what, d.steps);
    d.guidance = get_num(*dv, "guidance", "defaults.guidance", what, d.guidance);
    d.sampler = get_string(*dv, "sampler", "defaults.sampler", what, false, d.sampler);
    d.width = get_int(*dv, "width", "defaults.width", what, d.width);
    d.height = get_int(*dv, "height", "defaults.height", what, d.height);
  }
  try {
    parse_sampler_kind(m.defaults.sampler);
    check_steps(m.defaults.steps, DiscreteVpSchedule::dimba());
    check_guidance(m.defaults.guidance);
  } catch (const EngineError& e) {
    bad(what, std::string("defaults: ") + e.what());
  }
  if (m.defaults.width < 8 || m.defaults.height < 8 || m.defaults.width > 8192 || m.defaults.height > 8192)
    bad(what, "defaults.width and defaults.height must lie in [8, 8192]");

  if (check_files) {
    require_exists(m.dimba_weights, Kind::Any, "dimba.weights", what);
    require_exists(m.t5_folder, Kind::Dir, "text_encoder.folder", what);
    require_exists(m.tokenizer, Kind::File, "text_encoder.tokenizer", what);
    if (!m.pixel_space) require_exists(m.vae_folder, Kind::Dir, "vae.folder", what);
  }
  return m;
}

ModelManifest load_manifest(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw EngineError(ErrorCode::Io, "model manifest " + path + " does not exist");
  if (!S_ISREG(st.st_mode)) throw EngineError(ErrorCode::Io, "model manifest " + path + " is not a file");
  const std::string text = read_text_file(path, 1u << 20);
  ModelManifest m = parse_manifest(text, dirname_of(path), "model manifest " + path, true);
  m.path = path;
  return m;
}

}  // namespace dimba
