// UTF-8 rules exactly as sentencepiece's util.h applies them (string_util::OneCharLen,
// DecodeUTF8, IsValidDecodeUTF8), since the tokenizer must split text where the library does,
// including on malformed input. These are deliberately not a general-purpose UTF-8 decoder.
// defines: text::one_char_len, text::valid_utf8_prefix_len
#pragma once
#include <cstddef>
#include <cstdint>

namespace dimba::text {

// The byte length the lead byte announces, without validating the rest (sentencepiece's
// OneCharLen: a table on the high nibble, so a stray continuation byte counts as one).
inline int one_char_len(uint8_t lead) {
  static const uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Length of the well-formed character at s, or 0 when malformed. Mirrors DecodeUTF8 +
// IsValidDecodeUTF8: overlong forms and surrogates are malformed; a literal U+FFFD is valid.
inline size_t valid_utf8_prefix_len(const char* s, size_t n) {
  const auto b = [&](size_t i) { return uint8_t(s[i]); };
  const auto trail = [&](size_t i) { return (b(i) & 0xC0) == 0x80; };
  const auto valid_cp = [](uint32_t c) { return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF); };
  if (n == 0) return 0;
  if (b(0) < 0x80) return 1;
  if (n >= 2 && (b(0) & 0xE0) == 0xC0) {
    uint32_t cp = (uint32_t(b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    return (trail(1) && cp >= 0x80 && valid_cp(cp)) ? 2 : 0;
  }
  if (n >= 3 && (b(0) & 0xF0) == 0xE0) {
    uint32_t cp = (uint32_t(b(0) & 0x0F) << 12) | (uint32_t(b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    return (trail(1) && trail(2) && cp >= 0x800 && valid_cp(cp)) ? 3 : 0;
  }
  if (n >= 4 && (b(0) & 0xF8) == 0xF0) {
    uint32_t cp = (uint32_t(b(0) & 0x07) << 18) | (uint32_t(b(1) & 0x3F) << 12) |
                  (uint32_t(b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    return (trail(1) && trail(2) && trail(3) && cp >= 0x10000 && valid_cp(cp)) ? 4 : 0;
  }
  return 0;
}

}  // namespace dimba::text
