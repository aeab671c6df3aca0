// The prompt-embedding cache: a prompt (and the empty prompt, the null caption of CFG) is run
// through T5-XXL once per encoder, not once per image or per step. Entries are keyed by what
// determines the embedding: the tokenizer's content hash, the encoder's weights id (which
// includes the weight format: int8 embeddings differ from bf16 ones), max_length and the
// prompt bytes. Bounded by bytes with least-recently-used eviction.
//
// Threads: any number of threads may look up and insert; values are immutable and shared, so
// an evicted entry stays valid for whoever still holds it. PromptEncoder::encode computes a
// miss outside the lock; two threads missing on the same key at once both compute (the
// engine encodes on one thread, so that costs nothing in practice) and the second insert
// replaces the first with an identical value.
//
//   EmbeddingCache cache(256 << 20);
//   PromptEncoder pe(tokenizer, encoder, cache, 300);
//   std::shared_ptr<const PromptEmbedding> y = pe.encode("a red circle");  // [300, 4096]
// defines: PromptEmbedding, EmbeddingKey, EmbeddingCache, PromptEncoder
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/t5_encoder.h"
#include "text/tokenizer.h"

namespace dimba {

struct PromptEmbedding {
  int L = 0;                 // max_length
  int D = 0;                 // d_model
  std::vector<float> y;      // (L, D) last hidden state, padding positions included
  std::vector<int32_t> ids;  // (L) token ids: pieces, </s>, 0-padding
  std::vector<int32_t> mask; // (L) 1 on real tokens including </s>
  int length() const;        // sum(mask): the text tokens Dimba attends to
  size_t bytes() const { return y.size() * sizeof(float) + (ids.size() + mask.size()) * sizeof(int32_t); }
};

struct EmbeddingKey {
  std::string tokenizer_hash;  // Tokenizer::content_hash()
  std::string weights_id;      // T5Encoder::weights_id()
  int max_length = 0;
  std::string prompt;          // raw bytes as given (the tokenizer normalises, the key does not)
  bool operator==(const EmbeddingKey& o) const {
    return max_length == o.max_length && prompt == o.prompt && weights_id == o.weights_id &&
           tokenizer_hash == o.tokenizer_hash;
  }
};

class EmbeddingCache {
 public:
  // max_bytes bounds the sum of PromptEmbedding::bytes() held (one XXL prompt at 300 tokens
  // is 4.9 MB); an entry larger than the bound is not kept.
  explicit EmbeddingCache(size_t max_bytes);

  std::shared_ptr<const PromptEmbedding> find(const EmbeddingKey& key);  // null on a miss
  void insert(const EmbeddingKey& key, std::shared_ptr<const PromptEmbedding> value);
  void clear();

  size_t bytes() const;
  size_t entries() const;
  uint64_t hits() const;
  uint64_t misses() const;
  size_t max_bytes() const { return max_bytes_; }

 private:
  struct KeyHash {
    size_t operator()(const EmbeddingKey& k) const;
  };
  using Lru = std::list<std::pair<EmbeddingKey, std::shared_ptr<const PromptEmbedding>>>;  // front: newest
  void evict_to(size_t limit);  // with mu_ held

  const size_t max_bytes_;
  mutable std::mutex mu_;
  Lru lru_;
  std::unordered_map<EmbeddingKey, Lru::iterator, KeyHash> index_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
};

// Tokenizer + encoder + cache: what the pipeline calls for each prompt (MODEL.md 1 steps 1-2).
class PromptEncoder {
 public:
  // Holds references: the tokenizer, encoder and cache must outlive it.
  PromptEncoder(const Tokenizer& tokenizer, T5Encoder& encoder, EmbeddingCache& cache, int max_length);

  // The embedding of `prompt` (any bytes; over-long prompts are truncated to max_length-1
  // pieces plus </s>), from the cache when present, else encoded and inserted.
  std::shared_ptr<const PromptEmbedding> encode(const std::string& prompt);
  // Several prompts; the misses go through the encoder as one batch.
  std::vector<std::shared_ptr<const PromptEmbedding>> encode_batch(const std::vector<std::string>& prompts);

  EmbeddingKey key(const std::string& prompt) const;
  int max_length() const { return max_length_; }

 private:
  const Tokenizer& tok_;
  T5Encoder& enc_;
  EmbeddingCache& cache_;
  int max_length_;
};

}  // namespace dimba
