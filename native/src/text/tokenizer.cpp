// Unigram encoding as sentencepiece 0.1.9x does it (unigram_model.cc EncodeOptimized and
// sentencepiece_processor.cc PopulateSentencePieceText), plus the load-time checks of
// model_interface.cc InitializePieces, so a file the library refuses is refused here too.
// The float/double mix of the Viterbi scores is reproduced on purpose: the library keeps path
// scores in float but compares a piece candidate as a double (its user-defined bonus
// `length * max_score_ - 0.1` makes the ternary double), so near-ties resolve as it does.
// defines: Tokenizer
#include "text/tokenizer.h"

#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <filesystem>
#include <unordered_map>

#include "core/error.h"
#include "text/normalizer.h"
#include "text/piece_trie.h"
#include "text/sentencepiece_model.h"
#include "text/utf8.h"

namespace dimba {

using text::PieceType;

struct Tokenizer::Impl {
  text::SentencePieceModel model;
  text::PieceTrie pieces;        // NORMAL, USER_DEFINED and UNUSED pieces -> id
  text::PieceTrie user_defined;  // USER_DEFINED pieces, for the normaliser's pass-through
  std::unique_ptr<text::Normalizer> normalizer;
  std::unordered_map<std::string, int32_t> normal_ids, reserved_ids;
  int32_t unk_id = -1, eos_id = -1;
  float min_score = FLT_MAX, max_score = FLT_MIN;  // the library's initial values, FLT_MIN included
  int32_t byte_ids[256];
  std::string hash;

  void viterbi(const std::string& normalized, std::vector<int32_t>* ids, std::vector<std::string>* pieces) const;
};

namespace {

[[noreturn]] void bad(const std::string& why) {
  throw EngineError(ErrorCode::BadFile, "SentencePiece model: " + why);
}

std::string byte_piece(int b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

std::string fnv1a64_hex(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : bytes) {
    h ^= uint8_t(c);
    h *= 0x100000001b3ull;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016llx", (unsigned long long)h);
  return buf;
}

// sentencepiece's unigram Model::kUnkPenalty: an unknown character costs this much below the
// least likely piece.
constexpr float kUnkPenalty = 10.0f;

}  // namespace

Tokenizer Tokenizer::load(const std::string& path) {
  // Real vocabularies are a few MB (mT5's 250k pieces: 4.3 MB); a cap turns a wrong path to a
  // multi-GB weights file into a clear error instead of a huge read.
  constexpr uintmax_t kMaxModelBytes = uintmax_t(256) << 20;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw EngineError(ErrorCode::Io, "SentencePiece model " + path + " is not a readable file" + (ec ? ": " + ec.message() : ""));
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw EngineError(ErrorCode::Io, "cannot stat SentencePiece model " + path + ": " + ec.message());
  if (size > kMaxModelBytes)
    throw EngineError(ErrorCode::BadFile, path + ": " + std::to_string(size) + " bytes is too large for a SentencePiece model");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw EngineError(ErrorCode::Io, "cannot open SentencePiece model " + path);
  std::string bytes(size_t(size), '\0');
  const size_t got = bytes.empty() ? 0 : std::fread(&bytes[0], 1, bytes.size(), f);
  const bool read_error = std::ferror(f) != 0;
  std::fclose(f);
  if (read_error || got != bytes.size()) throw EngineError(ErrorCode::Io, "cannot read SentencePiece model " + path);
  try {
    return from_bytes(std::move(bytes));
  } catch (const EngineError& e) {
    throw EngineError(e.code, path + ": " + e.what());
  }
}

Tokenizer Tokenizer::from_bytes(std::string bytes) {
  auto impl = std::make_shared<Impl>();
  impl->hash = fnv1a64_hex(bytes);
  impl->model = text::parse_sentencepiece_model(bytes);
  const auto& m = impl->model;
  if (m.model_type != 1)
    throw EngineError(ErrorCode::UnsupportedFormat,
                      "SentencePiece model: only unigram models are supported (model_type " + std::to_string(m.model_type) + ")");
  if (m.pieces.empty()) bad("no pieces");
  if (m.pieces.size() > size_t(INT32_MAX)) bad("too many pieces");

  // InitializePieces: NORMAL/USER_DEFINED/UNUSED pieces and the reserved ones (UNKNOWN, CONTROL,
  // BYTE) live in two maps; a duplicate within one map is an error, across the two it is not.
  std::fill(impl->byte_ids, impl->byte_ids + 256, -1);
  std::vector<std::pair<std::string, int32_t>> trie_keys, user_keys;
  for (size_t i = 0; i < m.pieces.size(); ++i) {
    const auto& p = m.pieces[i];
    const int32_t id = int32_t(i);
    if (p.piece.empty()) bad("piece " + std::to_string(i) + " is empty");
    const bool normal = p.type == PieceType::Normal || p.type == PieceType::UserDefined || p.type == PieceType::Unused;
    auto& map = normal ? impl->normal_ids : impl->reserved_ids;
    if (!map.emplace(p.piece, id).second) bad("piece \"" + p.piece + "\" is defined twice");
    if (normal) trie_keys.emplace_back(p.piece, id);
    if (p.type == PieceType::UserDefined) user_keys.emplace_back(p.piece, id);
    if (p.type == PieceType::Unknown) {
      if (impl->unk_id >= 0) bad("more than one unknown piece (ids " + std::to_string(impl->unk_id) + " and " + std::to_string(i) + ")");
      impl->unk_id = id;
    }
    if (p.type == PieceType::Byte) {
      if (!m.byte_fallback) bad("byte piece \"" + p.piece + "\" in a model without byte_fallback");
      int b = -1;
      if (p.piece.size() == 6 && p.piece.compare(0, 3, "<0x") == 0 && p.piece[5] == '>') {
        unsigned v;
        if (std::sscanf(p.piece.c_str(), "<0x%2X>", &v) == 1 && byte_piece(int(v)) == p.piece) b = int(v);
      }
      if (b < 0) bad("byte piece \"" + p.piece + "\" is not of the form <0xXX>");
      impl->byte_ids[b] = id;
    }
    // The unigram Model constructor: score range over NORMAL pieces only.
    if (p.type == PieceType::Normal) {
      impl->min_score = std::min(impl->min_score, p.score);
      impl->max_score = std::max(impl->max_score, p.score);
    }
  }
  if (impl->unk_id < 0) bad("no unknown piece (<unk>)");
  if (m.byte_fallback) {
    for (int b = 0; b < 256; ++b)
      if (impl->byte_ids[b] < 0) bad("byte_fallback is set but " + byte_piece(b) + " is missing");
  }
  impl->pieces.build(trie_keys);
  impl->user_defined.build(user_keys);
  impl->normalizer = std::make_unique<text::Normalizer>(m, &impl->user_defined);
  auto eos = impl->reserved_ids.find("</s>");
  if (eos != impl->reserved_ids.end()) impl->eos_id = eos->second;
  else if ((eos = impl->normal_ids.find("</s>")) != impl->normal_ids.end()) impl->eos_id = eos->second;
  return Tokenizer(std::move(impl));
}

void Tokenizer::Impl::viterbi(const std::string& s, std::vector<int32_t>* ids, std::vector<std::string>* out_pieces) const {
  struct Best {
    int32_t id = -1;
    float score = 0.f;
    int64_t starts_at = -1;
  };
  const int64_t size = int64_t(s.size());
  if (size == 0) return;
  const float unk_score = min_score - kUnkPenalty;
  std::vector<Best> best(size_t(size) + 1);
  const auto& mp = model.pieces;
  // Lattice edges are generated on the fly from each character start; an edge into position e
  // replaces the best one there only if strictly better, so the first-found edge wins ties.
  for (int64_t start = 0; start < size;) {
    const float till_here = best[size_t(start)].score;
    const int64_t mblen = std::min<int64_t>(text::one_char_len(uint8_t(s[size_t(start)])), size - start);
    bool has_single_char_piece = false;
    int32_t node = 0;
    for (int64_t pos = start; pos < size; ++pos) {
      node = pieces.step(node, uint8_t(s[size_t(pos)]));
      if (node == text::PieceTrie::kNone) break;
      const int32_t id = pieces.value(node);
      if (id < 0) continue;
      const PieceType type = mp[size_t(id)].type;
      if (type == PieceType::Unused) continue;
      const int64_t length = pos + 1 - start;
      // User-defined pieces get a bonus so they are always chosen (in bytes, as the library).
      double score;
      if (type == PieceType::UserDefined) {
        const float scaled = float(uint64_t(length)) * max_score;
        score = double(scaled) - 0.1;
      } else {
        score = double(mp[size_t(id)].score);
      }
      const double candidate = score + double(till_here);
      Best& t = best[size_t(pos + 1)];
      if (t.starts_at == -1 || candidate > double(t.score)) {
        t.score = float(candidate);
        t.starts_at = start;
        t.id = id;
      }
      if (length == mblen) has_single_char_piece = true;
    }
    if (!has_single_char_piece) {  // no piece covers this character: an unknown edge
      Best& t = best[size_t(start + mblen)];
      const float candidate = unk_score + till_here;
      if (t.starts_at == -1 || candidate > t.score) {
        t.score = candidate;
        t.starts_at = start;
        t.id = unk_id;
      }
    }
    start += mblen;
  }
  // Backtrack, then emit in order. Consecutive unknowns merge into one <unk> whose piece is
  // their concatenated text (PopulateSentencePieceText), unless byte_fallback spells them out.
  std::vector<std::pair<int64_t, int64_t>> spans;  // (begin, end) per chosen edge, reversed
  for (int64_t end = size; end > 0;) {
    const Best& b = best[size_t(end)];
    DIMBA_CHECK(b.starts_at >= 0 && b.starts_at < end);
    spans.emplace_back(b.starts_at, end);
    end = b.starts_at;
  }
  bool prev_unk = false;
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
    const int32_t id = best[size_t(it->second)].id;
    const bool is_unk = id == unk_id;
    const std::string_view w(s.data() + it->first, size_t(it->second - it->first));
    if (is_unk && model.byte_fallback) {
      for (char c : w) {
        ids->push_back(byte_ids[uint8_t(c)]);
        if (out_pieces) out_pieces->push_back(byte_piece(uint8_t(c)));
      }
      prev_unk = false;
      continue;
    }
    if (is_unk && prev_unk) {
      if (out_pieces) out_pieces->back().append(w);
    } else {
      ids->push_back(id);
      if (out_pieces) out_pieces->emplace_back(w);
    }
    prev_unk = is_unk;
  }
}

void Tokenizer::encode(std::string_view utf8, std::vector<int32_t>* ids, std::vector<std::string>* pieces) const {
  ids->clear();
  if (pieces) pieces->clear();
  impl_->viterbi(impl_->normalizer->normalize(utf8), ids, pieces);
}

std::vector<int32_t> Tokenizer::encode(std::string_view utf8) const {
  std::vector<int32_t> ids;
  encode(utf8, &ids, nullptr);
  return ids;
}

std::vector<std::string> Tokenizer::encode_pieces(std::string_view utf8) const {
  std::vector<int32_t> ids;
  std::vector<std::string> pieces;
  encode(utf8, &ids, &pieces);
  return pieces;
}

T5Tokens Tokenizer::encode_t5(std::string_view utf8, int max_length) const {
  // The bound only catches nonsense before it becomes a giant allocation (Dimba uses 300).
  if (max_length < 1 || max_length > (1 << 20))
    throw EngineError(ErrorCode::InvalidArgument, "T5 max_length must be in [1, 1048576], got " + std::to_string(max_length));
  if (impl_->eos_id < 0) throw EngineError(ErrorCode::ModelMismatch, "SentencePiece model has no </s> piece, which T5 needs");
  T5Tokens t;
  t.ids = encode(utf8);
  if (t.ids.size() > size_t(max_length - 1)) t.ids.resize(size_t(max_length - 1));
  t.ids.push_back(impl_->eos_id);
  t.mask.assign(t.ids.size(), 1);
  t.ids.resize(size_t(max_length), 0);  // T5's <pad> is id 0
  t.mask.resize(size_t(max_length), 0);
  return t;
}

std::string Tokenizer::normalize(std::string_view utf8) const { return impl_->normalizer->normalize(utf8); }

const std::string& Tokenizer::id_to_piece(int32_t id) const {
  if (id < 0 || id >= vocab_size())
    throw EngineError(ErrorCode::InvalidArgument, "token id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(vocab_size()));
  return impl_->model.pieces[size_t(id)].piece;
}

int32_t Tokenizer::piece_to_id(std::string_view piece) const {
  const std::string key(piece);
  auto it = impl_->reserved_ids.find(key);  // the library looks at reserved pieces first
  if (it != impl_->reserved_ids.end()) return it->second;
  it = impl_->normal_ids.find(key);
  return it != impl_->normal_ids.end() ? it->second : -1;
}

int32_t Tokenizer::vocab_size() const { return int32_t(impl_->model.pieces.size()); }
int32_t Tokenizer::unk_id() const { return impl_->unk_id; }
int32_t Tokenizer::eos_id() const { return impl_->eos_id; }
const std::string& Tokenizer::content_hash() const { return impl_->hash; }

}  // namespace dimba
