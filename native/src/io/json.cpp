#include "io/json.h"

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace dimba {

nlohmann::json parse_json_untrusted(const std::string& text, const std::string& what,
                                    int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        throw EngineError(ErrorCode::BadFile, what + ": JSON nested deeper than " +
                                                  std::to_string(max_depth) + " levels");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw EngineError(ErrorCode::BadFile, what + ": malformed JSON (" + e.what() + ")");
  }
}

std::string read_text_file(const std::string& path, size_t max_bytes) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw EngineError(ErrorCode::Io, "cannot open " + path);
  f.seekg(0, std::ios::end);
  auto size = f.tellg();
  if (size < 0) throw EngineError(ErrorCode::Io, "cannot read " + path);
  if (size_t(size) > max_bytes)
    throw EngineError(ErrorCode::BadFile, path + ": " + std::to_string(size_t(size)) +
                                              " bytes is too large for a text file here");
  f.seekg(0);
  std::string s(size_t(size), '\0');
  f.read(s.data(), size);
  if (!f) throw EngineError(ErrorCode::Io, "cannot read " + path);
  return s;
}

}  // namespace dimba
