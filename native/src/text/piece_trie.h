// A byte trie over vocabulary strings, walked one byte at a time so that the Viterbi pass can
// enumerate every piece starting at a position in one walk (the role Darts::traverse plays in
// sentencepiece's unigram_model.cc). Built once at load; children are stored flat and sorted.
// defines: text::PieceTrie
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dimba::text {

class PieceTrie {
 public:
  static constexpr int32_t kNone = -1;

  // keys: (bytes, value >= 0); keys must be non-empty and distinct.
  void build(const std::vector<std::pair<std::string, int32_t>>& keys);

  // The child of `node` along byte `b`, or kNone. Node 0 is the root.
  int32_t step(int32_t node, uint8_t b) const {
    if (node == 0) return root_[b];
    uint32_t lo = first_[size_t(node)], hi = first_[size_t(node) + 1];
    while (lo < hi) {  // children are few below the root: a short binary search
      uint32_t mid = (lo + hi) / 2;
      uint8_t l = label_[mid];
      if (l == b) return child_[mid];
      if (l < b) lo = mid + 1; else hi = mid;
    }
    return kNone;
  }

  // The value stored at `node` (a key ends here), or kNone.
  int32_t value(int32_t node) const { return value_[size_t(node)]; }

  // Length of the longest key that is a prefix of s[0, n), or 0.
  size_t longest_prefix(const char* s, size_t n) const;

  bool empty() const { return value_.size() <= 1; }

 private:
  int32_t root_[256];
  std::vector<uint32_t> first_;  // (nodes + 1) offsets into label_/child_
  std::vector<uint8_t> label_;
  std::vector<int32_t> child_;
  std::vector<int32_t> value_;  // per node
};

}  // namespace dimba::text
