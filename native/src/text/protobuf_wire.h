// A minimal reader for the protobuf wire format: enough to walk a SentencePiece ModelProto
// without linking libprotobuf. It never reads past the buffer: every malformed varint, length
// or wire type throws EngineError(BadFile) naming the message being read.
// defines: text::WireReader, text::WireType
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/error.h"

namespace dimba::text {

enum class WireType : uint32_t { Varint = 0, Fixed64 = 1, Bytes = 2, StartGroup = 3, EndGroup = 4, Fixed32 = 5 };

class WireReader {
 public:
  // `what` names the message for error messages ("ModelProto.trainer_spec").
  WireReader(std::string_view data, std::string what) : p_(data.data()), end_(data.data() + data.size()), what_(std::move(what)) {}

  bool done() const { return p_ == end_; }

  // Reads the next tag; returns false at the end of the message.
  bool next(uint32_t* field, WireType* type) {
    if (done()) return false;
    uint64_t tag = varint();
    uint32_t wt = uint32_t(tag & 7);
    // Field 0 and wire types 6/7 never occur in a valid message (protobuf rejects them too).
    if ((tag >> 3) == 0 || (tag >> 3) > 0x1FFFFFFF || wt > 5) fail("invalid tag " + std::to_string(tag));
    *field = uint32_t(tag >> 3);
    *type = WireType(wt);
    last_field_ = *field;
    return true;
  }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ == end_) fail("truncated varint");
      uint8_t b = uint8_t(*p_++);
      if (shift == 63 && b > 1) fail("varint overflows 64 bits");
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
    return 0;
  }

  uint32_t fixed32() {
    if (end_ - p_ < 4) fail("truncated fixed32");
    uint32_t v;
    std::memcpy(&v, p_, 4);  // the wire is little-endian, as is every machine we build for
    p_ += 4;
    return v;
  }

  float float32() {
    uint32_t bits = fixed32();
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }

  std::string_view bytes() {
    uint64_t n = varint();
    if (n > uint64_t(end_ - p_)) fail("length " + std::to_string(n) + " runs past the end (" + std::to_string(end_ - p_) + " bytes left)");
    std::string_view s(p_, size_t(n));
    p_ += n;
    return s;
  }

  // Skips a field we do not read, as protobuf keeps unknown fields without interpreting them.
  void skip(WireType t) {
    switch (t) {
      case WireType::Varint: varint(); return;
      case WireType::Fixed64:
        if (end_ - p_ < 8) fail("truncated fixed64");
        p_ += 8;
        return;
      case WireType::Bytes: bytes(); return;
      case WireType::Fixed32: fixed32(); return;
      case WireType::StartGroup: skip_group(last_field_, 1); return;
      default: fail("end-group tag without a start");
    }
  }

  // Deprecated groups never appear in SentencePiece models, but protobuf skips them as unknown
  // fields, so a file the library loads must load here too. Depth is capped like protobuf's
  // recursion limit (100).
  void skip_group(uint32_t group_field, int depth) {
    if (depth > 100) fail("groups nested too deeply");
    uint32_t field;
    WireType t;
    while (next(&field, &t)) {
      if (t == WireType::EndGroup) {
        if (field != group_field) fail("group " + std::to_string(group_field) + " ends as " + std::to_string(field));
        return;
      }
      if (t == WireType::StartGroup) skip_group(field, depth + 1); else skip(t);
    }
    fail("unterminated group");
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw EngineError(ErrorCode::BadFile, "SentencePiece model: malformed " + what_ + ": " + why);
  }

 private:
  const char* p_;
  const char* end_;
  std::string what_;
  uint32_t last_field_ = 0;
};

}  // namespace dimba::text
