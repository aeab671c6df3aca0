// The T5 tokenizer: a SentencePiece unigram model (`spiece.model`) read and applied by our own
// code, producing exactly the ids the sentencepiece library does (normaliser, Viterbi, unknown
// handling), plus the T5 convention for the encoder input: append `</s>`, truncate, pad, mask.
// Immutable after load and cheap to copy (shared state), so one instance serves all threads.
// defines: Tokenizer, T5Tokens
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dimba {

struct T5Tokens {
  std::vector<int32_t> ids;   // (max_length) pieces, then </s>, then 0-padding
  std::vector<int32_t> mask;  // (max_length) 1 on real tokens including </s>, 0 on padding
};

class Tokenizer {
 public:
  // Reads a SentencePiece model file. Errors: Io (cannot read), BadFile (malformed protobuf,
  // broken charsmap, library-invalid vocabulary), UnsupportedFormat (not a unigram model).
  static Tokenizer load(const std::string& path);
  // The same from the file's bytes (tests, embedded models).
  static Tokenizer from_bytes(std::string bytes);

  // sentencepiece's EncodeAsIds / EncodeAsPieces. Any byte string is accepted: malformed UTF-8
  // is replaced per byte by U+FFFD, as the library does, and usually lands on <unk>.
  std::vector<int32_t> encode(std::string_view utf8) const;
  std::vector<std::string> encode_pieces(std::string_view utf8) const;
  void encode(std::string_view utf8, std::vector<int32_t>* ids, std::vector<std::string>* pieces) const;

  // T5 input: the first max_length-1 pieces, </s>, 0-padding to max_length (transformers'
  // T5Tokenizer with padding="max_length", truncation=True). 1 <= max_length <= 2^20.
  T5Tokens encode_t5(std::string_view utf8, int max_length) const;

  // The normalised text the Viterbi pass sees (spm_normalize), for diagnostics.
  std::string normalize(std::string_view utf8) const;

  const std::string& id_to_piece(int32_t id) const;  // InvalidArgument when out of range
  int32_t piece_to_id(std::string_view piece) const;  // -1 when absent (the library says unk)
  int32_t vocab_size() const;
  int32_t unk_id() const;
  int32_t eos_id() const;  // id of "</s>", or -1

  // "fnv1a64:<16 hex>" of the model file's bytes: the tokenizer part of embedding-cache keys.
  const std::string& content_hash() const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace dimba
