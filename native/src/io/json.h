// JSON from untrusted files (safetensors headers, configs, shard indexes): nlohmann/json
// with a nesting limit checked first, because its recursive parser would otherwise let a
// hostile file of a million '[' exhaust the stack.
// defines: parse_json_untrusted, read_text_file
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace dimba {

// Throws EngineError(BadFile) naming `what` on malformed JSON or nesting deeper than max_depth.
nlohmann::json parse_json_untrusted(const std::string& text, const std::string& what,
                                    int max_depth = 64);

// Whole file as text; EngineError(Io) if it cannot be read, BadFile if over max_bytes.
std::string read_text_file(const std::string& path, size_t max_bytes = 64u << 20);

}  // namespace dimba
