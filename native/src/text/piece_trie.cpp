// Builds PieceTrie from sorted keys: a pointer-based trie first, then flattened so lookups
// touch three contiguous arrays.
// defines: text::PieceTrie::build, text::PieceTrie::longest_prefix
#include "text/piece_trie.h"

#include <algorithm>
#include <map>

namespace dimba::text {

void PieceTrie::build(const std::vector<std::pair<std::string, int32_t>>& keys) {
  std::vector<std::map<uint8_t, int32_t>> kids(1);
  std::vector<int32_t> values(1, kNone);
  for (const auto& [key, val] : keys) {
    int32_t node = 0;
    for (char c : key) {
      auto& m = kids[size_t(node)];
      auto it = m.find(uint8_t(c));
      if (it == m.end()) {
        int32_t fresh = int32_t(kids.size());
        m.emplace(uint8_t(c), fresh);
        kids.emplace_back();
        values.push_back(kNone);
        node = fresh;
      } else {
        node = it->second;
      }
    }
    values[size_t(node)] = val;
  }
  first_.assign(kids.size() + 1, 0);
  label_.clear();
  child_.clear();
  for (size_t n = 0; n < kids.size(); ++n) {
    first_[n] = uint32_t(label_.size());
    for (const auto& [b, c] : kids[n]) {  // std::map iterates in byte order
      label_.push_back(b);
      child_.push_back(c);
    }
  }
  first_[kids.size()] = uint32_t(label_.size());
  std::fill(root_, root_ + 256, kNone);
  for (const auto& [b, c] : kids[0]) root_[b] = c;
  value_ = std::move(values);
}

size_t PieceTrie::longest_prefix(const char* s, size_t n) const {
  size_t best = 0;
  int32_t node = 0;
  for (size_t i = 0; i < n; ++i) {
    node = step(node, uint8_t(s[i]));
    if (node == kNone) break;
    if (value(node) != kNone) best = i + 1;
  }
  return best;
}

}  // namespace dimba::text
