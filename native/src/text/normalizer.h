// SentencePiece's text normaliser, reproduced from the behaviour of normalizer.cc: the
// precompiled character map (a Darts double-array trie whose leaves index a blob of
// NUL-terminated replacement strings; this is how `nmt_nfkc` ships NFKC plus its extra rules),
// applied longest-match at each position; user-defined pieces passed through untouched; then
// the whitespace rules (drop leading, collapse repeated and drop trailing spaces, escape ' ' as
// U+2581 and add one as a dummy prefix).
// defines: text::Normalizer
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/piece_trie.h"
#include "text/sentencepiece_model.h"

namespace dimba::text {

class Normalizer {
 public:
  // Validates the charsmap layout (throws EngineError(BadFile)). `user_defined` may be empty;
  // it must outlive the normaliser.
  Normalizer(const SentencePieceModel& model, const PieceTrie* user_defined);

  // Normalised text, ready for the Viterbi pass: valid UTF-8 except where the charsmap itself
  // emits otherwise (malformed input bytes become U+FFFD, one per byte, as the library does).
  std::string normalize(std::string_view input) const;

 private:
  // The library's NormalizePrefix: (replacement, bytes consumed) for the text at `s`.
  std::pair<std::string_view, size_t> normalize_prefix(const char* s, size_t n) const;
  // Longest charsmap key that prefixes s: (length, offset into strings_), length 0 if none.
  std::pair<size_t, uint32_t> charsmap_match(const char* s, size_t n) const;

  std::vector<uint32_t> units_;  // Darts double-array units
  std::string strings_;          // NUL-terminated replacements, indexed by the trie's values
  const PieceTrie* user_defined_;
  bool add_dummy_prefix_, remove_extra_whitespaces_, escape_whitespaces_, treat_whitespace_as_suffix_;
};

}  // namespace dimba::text
