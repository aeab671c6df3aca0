// The parts of a SentencePiece model file (`spiece.model`, a protobuf ModelProto from
// sentencepiece_model.proto) that encoding needs, read with our own wire-format reader.
// Field numbers and proto2 defaults follow sentencepiece_model.proto; fields we do not use
// are skipped like any unknown field.
// defines: text::PieceType, text::ModelPiece, text::SentencePieceModel, text::parse_sentencepiece_model
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dimba::text {

// ModelProto.SentencePiece.Type, with the proto's numbering.
enum class PieceType : int { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

struct ModelPiece {
  std::string piece;
  float score = 0.f;
  PieceType type = PieceType::Normal;  // proto2 default
};

struct SentencePieceModel {
  std::vector<ModelPiece> pieces;  // index = id
  // TrainerSpec
  int model_type = 1;  // 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR (proto default UNIGRAM)
  bool treat_whitespace_as_suffix = false;
  bool byte_fallback = false;
  // NormalizerSpec
  std::string normalizer_name;
  std::string precompiled_charsmap;  // empty: no character rewriting (identity)
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// Parses the protobuf bytes; throws EngineError(BadFile) when they are not a well-formed
// ModelProto. Semantic checks (unk present, no duplicate pieces) are the tokenizer's.
SentencePieceModel parse_sentencepiece_model(std::string_view bytes);

}  // namespace dimba::text
