// The prompt-embedding cache (LRU by bytes under one mutex) and PromptEncoder, which
// tokenises, looks up, and batches the misses through the T5 encoder.
// defines: PromptEmbedding::length, EmbeddingCache, PromptEncoder
#include "text/embedding_cache.h"

#include <functional>
#include <map>

#include "core/error.h"

namespace dimba {

int PromptEmbedding::length() const {
  int n = 0;
  for (int32_t m : mask) n += m != 0;
  return n;
}

size_t EmbeddingCache::KeyHash::operator()(const EmbeddingKey& k) const {
  std::hash<std::string> h;
  size_t v = h(k.prompt);
  v = v * 1000003u ^ h(k.weights_id);
  v = v * 1000003u ^ h(k.tokenizer_hash);
  return v * 1000003u ^ size_t(k.max_length);
}

EmbeddingCache::EmbeddingCache(size_t max_bytes) : max_bytes_(max_bytes) {}

std::shared_ptr<const PromptEmbedding> EmbeddingCache::find(const EmbeddingKey& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);  // now the newest
  return it->second->second;
}

void EmbeddingCache::insert(const EmbeddingKey& key, std::shared_ptr<const PromptEmbedding> value) {
  if (!value) throw EngineError(ErrorCode::InvalidArgument, "EmbeddingCache::insert: null embedding");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it != index_.end()) {
    bytes_ -= it->second->second->bytes();
    lru_.erase(it->second);
    index_.erase(it);
  }
  const size_t b = value->bytes();
  if (b > max_bytes_) return;  // would evict everything and still not fit
  evict_to(max_bytes_ - b);
  lru_.emplace_front(key, std::move(value));
  index_[key] = lru_.begin();
  bytes_ += b;
}

void EmbeddingCache::evict_to(size_t limit) {
  while (bytes_ > limit && !lru_.empty()) {
    auto& last = lru_.back();
    bytes_ -= last.second->bytes();
    index_.erase(last.first);
    lru_.pop_back();
  }
}

void EmbeddingCache::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  lru_.clear();
  index_.clear();
  bytes_ = 0;
}

size_t EmbeddingCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}
size_t EmbeddingCache::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}
uint64_t EmbeddingCache::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}
uint64_t EmbeddingCache::misses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return misses_;
}

PromptEncoder::PromptEncoder(const Tokenizer& tokenizer, T5Encoder& encoder, EmbeddingCache& cache, int max_length)
    : tok_(tokenizer), enc_(encoder), cache_(cache), max_length_(max_length) {
  if (max_length < 1 || max_length > 4096)
    throw EngineError(ErrorCode::InvalidArgument, "PromptEncoder: max_length must be in [1, 4096]");
}

EmbeddingKey PromptEncoder::key(const std::string& prompt) const {
  return {tok_.content_hash(), enc_.weights_id(), max_length_, prompt};
}

std::shared_ptr<const PromptEmbedding> PromptEncoder::encode(const std::string& prompt) {
  return encode_batch({prompt})[0];
}

std::vector<std::shared_ptr<const PromptEmbedding>> PromptEncoder::encode_batch(
    const std::vector<std::string>& prompts) {
  std::vector<std::shared_ptr<const PromptEmbedding>> out(prompts.size());
  // Distinct missing prompts, each with the output slots waiting for it.
  std::map<std::string, std::vector<size_t>> missing;
  for (size_t i = 0; i < prompts.size(); ++i) {
    auto it = missing.find(prompts[i]);
    if (it != missing.end()) {
      it->second.push_back(i);
      continue;
    }
    out[i] = cache_.find(key(prompts[i]));
    if (!out[i]) missing[prompts[i]].push_back(i);
  }
  if (missing.empty()) return out;

  const int L = max_length_, D = enc_.config().d_model, B = int(missing.size());
  std::vector<int32_t> ids(size_t(B) * L), mask(size_t(B) * L);
  std::vector<std::shared_ptr<PromptEmbedding>> fresh;
  int b = 0;
  for (const auto& [prompt, slots] : missing) {
    T5Tokens t = tok_.encode_t5(prompt, L);
    auto e = std::make_shared<PromptEmbedding>();
    e->L = L;
    e->D = D;
    e->ids = std::move(t.ids);
    e->mask = std::move(t.mask);
    std::copy(e->ids.begin(), e->ids.end(), ids.begin() + int64_t(b) * L);
    std::copy(e->mask.begin(), e->mask.end(), mask.begin() + int64_t(b) * L);
    fresh.push_back(std::move(e));
    ++b;
  }
  std::vector<float> y(size_t(B) * L * D);
  enc_.forward(y.data(), ids.data(), mask.data(), B, L);
  b = 0;
  for (const auto& [prompt, slots] : missing) {
    auto& e = fresh[size_t(b)];
    e->y.assign(y.begin() + int64_t(b) * L * D, y.begin() + int64_t(b + 1) * L * D);
    std::shared_ptr<const PromptEmbedding> v = e;
    cache_.insert(key(prompt), v);
    for (size_t slot : slots) out[slot] = v;
    ++b;
  }
  return out;
}

}  // namespace dimba
