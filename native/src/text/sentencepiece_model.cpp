// Reads a SentencePiece ModelProto from its protobuf bytes. Proto2 semantics we reproduce:
// repeated `pieces` append; a scalar seen twice keeps the last value; an embedded message seen
// twice merges into the first; a field whose wire type does not match the schema is treated as
// unknown and skipped; an enum value outside the schema is ignored (closed proto2 enums).
// defines: text::parse_sentencepiece_model
#include "text/sentencepiece_model.h"

#include "text/protobuf_wire.h"

namespace dimba::text {
namespace {

ModelPiece parse_piece(std::string_view bytes, size_t index) {
  WireReader r(bytes, "ModelProto.pieces[" + std::to_string(index) + "]");
  ModelPiece p;
  uint32_t field;
  WireType t;
  while (r.next(&field, &t)) {
    if (field == 1 && t == WireType::Bytes) {
      p.piece = std::string(r.bytes());
    } else if (field == 2 && t == WireType::Fixed32) {
      p.score = r.float32();
    } else if (field == 3 && t == WireType::Varint) {
      // int32 enums travel as sign-extended varints; keep the low 32 bits.
      int v = int(int32_t(uint32_t(r.varint())));
      if (v >= 1 && v <= 6) p.type = PieceType(v);
    } else {
      r.skip(t);
    }
  }
  return p;
}

void parse_trainer_spec(std::string_view bytes, SentencePieceModel* m) {
  WireReader r(bytes, "ModelProto.trainer_spec");
  uint32_t field;
  WireType t;
  while (r.next(&field, &t)) {
    if (field == 3 && t == WireType::Varint) {
      int v = int(int32_t(uint32_t(r.varint())));
      if (v >= 1 && v <= 4) m->model_type = v;
    } else if (field == 24 && t == WireType::Varint) {
      m->treat_whitespace_as_suffix = r.varint() != 0;
    } else if (field == 35 && t == WireType::Varint) {
      m->byte_fallback = r.varint() != 0;
    } else {
      r.skip(t);
    }
  }
}

void parse_normalizer_spec(std::string_view bytes, SentencePieceModel* m) {
  WireReader r(bytes, "ModelProto.normalizer_spec");
  uint32_t field;
  WireType t;
  while (r.next(&field, &t)) {
    if (field == 1 && t == WireType::Bytes) {
      m->normalizer_name = std::string(r.bytes());
    } else if (field == 2 && t == WireType::Bytes) {
      m->precompiled_charsmap = std::string(r.bytes());
    } else if (field == 3 && t == WireType::Varint) {
      m->add_dummy_prefix = r.varint() != 0;
    } else if (field == 4 && t == WireType::Varint) {
      m->remove_extra_whitespaces = r.varint() != 0;
    } else if (field == 5 && t == WireType::Varint) {
      m->escape_whitespaces = r.varint() != 0;
    } else {
      r.skip(t);
    }
  }
}

// self_test_data does not affect encoding (we do not rerun the library's self-test), but
// protobuf parses it as a message, so a malformed one makes the whole file unreadable.
void check_self_test_data(std::string_view bytes) {
  WireReader r(bytes, "ModelProto.self_test_data");
  uint32_t field;
  WireType t;
  while (r.next(&field, &t)) {
    if (field == 1 && t == WireType::Bytes) {
      WireReader sample(r.bytes(), "ModelProto.self_test_data.samples");
      while (sample.next(&field, &t)) sample.skip(t);  // input = 1, expected = 2: both strings
    } else {
      r.skip(t);
    }
  }
}

}  // namespace

SentencePieceModel parse_sentencepiece_model(std::string_view bytes) {
  SentencePieceModel m;
  WireReader r(bytes, "ModelProto");
  uint32_t field;
  WireType t;
  while (r.next(&field, &t)) {
    if (field == 1 && t == WireType::Bytes) {
      m.pieces.push_back(parse_piece(r.bytes(), m.pieces.size()));
    } else if (field == 2 && t == WireType::Bytes) {
      parse_trainer_spec(r.bytes(), &m);
    } else if (field == 3 && t == WireType::Bytes) {
      parse_normalizer_spec(r.bytes(), &m);
    } else if (field == 4 && t == WireType::Bytes) {
      check_self_test_data(r.bytes());
    } else if (field == 5 && t == WireType::Bytes) {
      // denormalizer_spec only matters for decoding; it must still be a well-formed message.
      SentencePieceModel ignored;
      parse_normalizer_spec(r.bytes(), &ignored);
    } else {
      r.skip(t);
    }
  }
  return m;
}

}  // namespace dimba::text
