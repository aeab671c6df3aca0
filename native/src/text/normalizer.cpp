// The SentencePiece normaliser (see normalizer.h). The precompiled charsmap layout is
//   uint32 little-endian trie_size | trie_size bytes of Darts units | replacement strings
// and a Darts unit packs: bits 0-7 label (bit 31 marks a leaf unit, so leaves never match a
// label), bit 8 has-leaf, bit 9 offset scale, bits 10-31 offset; a leaf unit's low 31 bits are
// its value. Every index is bounds-checked, so a corrupt map gives EngineError, not a crash.
// defines: text::Normalizer
#include "text/normalizer.h"

#include <cstring>

#include "core/error.h"
#include "text/utf8.h"

namespace dimba::text {
namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581, sentencepiece's escaped ' '
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

[[noreturn]] void bad(const std::string& why) {
  throw EngineError(ErrorCode::BadFile, "SentencePiece model: precompiled_charsmap " + why);
}

inline uint32_t unit_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
inline uint32_t unit_label(uint32_t u) { return u & ((1u << 31) | 0xFFu); }
inline bool unit_has_leaf(uint32_t u) { return (u >> 8) & 1u; }
inline uint32_t unit_value(uint32_t u) { return u & ((1u << 31) - 1); }

}  // namespace

Normalizer::Normalizer(const SentencePieceModel& m, const PieceTrie* user_defined)
    : user_defined_(user_defined),
      add_dummy_prefix_(m.add_dummy_prefix),
      remove_extra_whitespaces_(m.remove_extra_whitespaces),
      escape_whitespaces_(m.escape_whitespaces),
      treat_whitespace_as_suffix_(m.treat_whitespace_as_suffix) {
  const std::string& blob = m.precompiled_charsmap;
  if (blob.empty()) return;  // no rewriting rules: only the whitespace handling applies
  if (blob.size() <= 4) bad("is too short (" + std::to_string(blob.size()) + " bytes)");
  uint32_t trie_size;
  std::memcpy(&trie_size, blob.data(), 4);
  if (trie_size > blob.size() - 4)
    bad("declares a " + std::to_string(trie_size) + "-byte trie but holds " + std::to_string(blob.size() - 4));
  units_.resize(trie_size / 4);
  if (!units_.empty()) std::memcpy(units_.data(), blob.data() + 4, units_.size() * 4);
  strings_ = blob.substr(4 + size_t(trie_size));
  // Replacements are read as C strings; a final NUL keeps every in-range offset terminated.
  if (!strings_.empty() && strings_.back() != '\0') bad("replacement strings are not NUL-terminated");
}

std::pair<size_t, uint32_t> Normalizer::charsmap_match(const char* s, size_t n) const {
  // Darts' commonPrefixSearch from the root, keeping the longest hit (the library takes the
  // longest of the results it collects).
  size_t best_len = 0;
  uint32_t best_val = 0;
  if (units_.empty()) return {0, 0};
  const size_t nu = units_.size();
  uint32_t id = unit_offset(units_[0]);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t c = uint8_t(s[i]);
    id ^= c;
    if (id >= nu) break;
    const uint32_t u = units_[id];
    if (unit_label(u) != c) break;
    id ^= unit_offset(u);
    if (id >= nu) break;
    if (unit_has_leaf(u)) {
      best_len = i + 1;
      best_val = unit_value(units_[id]);
    }
  }
  return {best_len, best_val};
}

std::pair<std::string_view, size_t> Normalizer::normalize_prefix(const char* s, size_t n) const {
  // User-defined symbols are protected from normalisation (PrefixMatcher in the library).
  if (user_defined_ && !user_defined_->empty()) {
    size_t len = user_defined_->longest_prefix(s, n);
    if (len > 0) return {std::string_view(s, len), len};
  }
  auto [len, val] = charsmap_match(s, n);
  if (len > 0) {
    if (val >= strings_.size())
      bad("maps to replacement offset " + std::to_string(val) + " outside its " +
          std::to_string(strings_.size()) + "-byte string table");
    return {std::string_view(strings_.data() + val), len};  // C string: ends at the next NUL
  }
  size_t clen = valid_utf8_prefix_len(s, n);
  // A malformed byte becomes U+FFFD and only that one byte is consumed.
  if (clen == 0) return {kReplacementChar, 1};
  return {std::string_view(s, clen), clen};
}

std::string Normalizer::normalize(std::string_view input) const {
  std::string out;
  const char* s = input.data();
  size_t n = input.size();
  if (remove_extra_whitespaces_) {  // leading whitespace, judged after normalisation
    while (n > 0) {
      auto [rep, used] = normalize_prefix(s, n);
      if (rep != " ") break;
      s += used;
      n -= used;
    }
  }
  if (n == 0) return out;
  out.reserve(n * 3 / 2 + 8);
  const std::string_view space = escape_whitespaces_ ? kSpaceSymbol : std::string_view(" ");
  if (add_dummy_prefix_ && !treat_whitespace_as_suffix_) out.append(space);
  bool prev_space = remove_extra_whitespaces_;
  while (n > 0) {
    auto [rep, used] = normalize_prefix(s, n);
    if (prev_space) {
      while (!rep.empty() && rep.front() == ' ') rep.remove_prefix(1);
    }
    if (!rep.empty()) {
      for (char c : rep) {
        if (escape_whitespaces_ && c == ' ') out.append(kSpaceSymbol); else out.push_back(c);
      }
      prev_space = rep.back() == ' ';
    }
    s += used;
    n -= used;
    if (!remove_extra_whitespaces_) prev_space = false;
  }
  if (remove_extra_whitespaces_) {  // trailing: also strips a literal U+2581, as the library does
    while (out.size() >= space.size() && out.compare(out.size() - space.size(), space.size(), space) == 0)
      out.resize(out.size() - space.size());
  }
  if (add_dummy_prefix_ && treat_whitespace_as_suffix_) out.append(space);
  return out;
}

}  // namespace dimba::text
