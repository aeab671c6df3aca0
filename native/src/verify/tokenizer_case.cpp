// Golden kind "tokenizer": DIR/CASE.json is a cases file laid out like
// ../shared/golden/tokenizer-cases.json: {"model": "<SentencePiece model file, relative to
// DIR>", "cases": [{"text", "ids", "pieces", "t5_ids_len<N>", "t5_mask_len<N>"}, ...]} (every
// field but "text" optional; any N). The model named inside is loaded and each case is encoded;
// ids, pieces and the T5 convention (</s>, truncation, padding, mask at length N) must match
// EXACTLY, so each comparison is a line with rel_err 0 (match) or 1 (mismatch) against a
// tolerance of 0. The weight dtype option does not apply.
// defines: kTokenizerCase
#include <cstdint>
#include <fstream>

#include "core/error.h"
#include "io/json.h"
#include "text/tokenizer.h"
#include "verify/cases.h"

namespace dimba {
namespace {

bool file_exists(const std::string& p) { return std::ifstream(p).good(); }

nlohmann::json read_cases(const std::string& path) {
  return parse_json_untrusted(read_text_file(path, 64u << 20), path);
}

bool detect_tokenizer(const std::string& dir, const std::string& name) {
  const std::string base = dir + "/" + name;
  if (!file_exists(base + ".json") || file_exists(base + ".weights.safetensors")) return false;
  try {
    nlohmann::json j = read_cases(base + ".json");
    return j.is_object() && j.contains("model") && j["model"].is_string() && j.contains("cases") &&
           j["cases"].is_array();
  } catch (const EngineError&) {
    return false;  // not a readable cases file: let other kinds (or the "no case" error) answer
  }
}

[[noreturn]] void bad(const std::string& what, const std::string& msg) {
  throw EngineError(ErrorCode::BadFile, what + ": " + msg);
}

std::vector<int32_t> int_array(const nlohmann::json& v, const std::string& what) {
  if (!v.is_array()) bad(what, "expected an array of integers");
  std::vector<int32_t> out;
  for (const auto& x : v) {
    if (!x.is_number_integer()) bad(what, "expected an array of integers");
    const int64_t i = x.get<int64_t>();
    if (i < INT32_MIN || i > INT32_MAX) bad(what, "integer out of range");
    out.push_back(int32_t(i));
  }
  return out;
}

// A printable excerpt of a case's text for line names (bytes outside ASCII as \xNN).
std::string excerpt(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= 32) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f && c != '"') {
      out += char(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

VerifyReport run_tokenizer(const std::string& dir, const std::string& name, const VerifyOptions&) {
  const std::string path = dir + "/" + name + ".json";
  nlohmann::json j = read_cases(path);
  if (!j.is_object() || !j.contains("model") || !j["model"].is_string() || !j.contains("cases") ||
      !j["cases"].is_array())
    bad(path, "expected {\"model\": file, \"cases\": [...]}");
  const std::string model = j["model"].get<std::string>();
  if (model.empty() || model[0] == '/' || model.find("..") != std::string::npos)
    bad(path, "model must name a file beside the cases file");
  Tokenizer tok = Tokenizer::load(dir + "/" + model);

  VerifyReport rep;
  rep.kind = "tokenizer";
  auto line = [&](const std::string& n, bool ok) { rep.lines.push_back({n, ok ? 0.0 : 1.0, 0.0}); };
  size_t index = 0;
  for (const auto& c : j["cases"]) {
    const std::string what = path + " case " + std::to_string(index);
    if (!c.is_object() || !c.contains("text") || !c["text"].is_string()) bad(what, "needs a \"text\" string");
    const std::string text = c["text"].get<std::string>();
    const std::string label = "case " + std::to_string(index) + " \"" + excerpt(text) + "\"";
    std::vector<int32_t> ids;
    std::vector<std::string> pieces;
    tok.encode(text, &ids, &pieces);
    if (c.contains("ids")) line(label + " ids", ids == int_array(c["ids"], what + " ids"));
    if (c.contains("pieces")) {
      if (!c["pieces"].is_array()) bad(what, "pieces must be an array of strings");
      std::vector<std::string> want;
      for (const auto& p : c["pieces"]) {
        if (!p.is_string()) bad(what, "pieces must be an array of strings");
        want.push_back(p.get<std::string>());
      }
      line(label + " pieces", pieces == want);
    }
    // The T5 convention at each length the case pins (t5_ids_len16 with t5_mask_len16, ...).
    for (auto it = c.begin(); it != c.end(); ++it) {
      const std::string key = it.key();
      const std::string prefix = "t5_ids_len";
      if (key.rfind(prefix, 0) != 0) continue;
      const std::string n = key.substr(prefix.size());
      if (n.empty() || n.size() > 6 || n.find_first_not_of("0123456789") != std::string::npos)
        bad(what, "bad key " + key);
      const int len = std::stoi(n);
      if (len < 1) bad(what, "bad key " + key);
      T5Tokens t = tok.encode_t5(text, len);
      line(label + " " + key, t.ids == int_array(it.value(), what + " " + key));
      const std::string mkey = "t5_mask_len" + n;
      if (c.contains(mkey)) line(label + " " + mkey, t.mask == int_array(c[mkey], what + " " + mkey));
    }
    ++index;
  }
  if (rep.lines.empty()) bad(path, "no case pins any ids");
  return rep;
}

}  // namespace

extern const GoldenKind kTokenizerCase;
const GoldenKind kTokenizerCase = {
    "tokenizer",
    "CASE.json = {\"model\": SentencePiece file in DIR, \"cases\": [{text, ids, pieces, t5_ids_lenN, t5_mask_lenN}]}",
    detect_tokenizer, run_tokenizer};

}  // namespace dimba
