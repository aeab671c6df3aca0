// What every model (Dimba, T5, VAE) does with its config.json and its checkpoint before it
// runs: read numbers with range checks, and compare the checkpoint's tensors with the list
// the config implies, collecting every problem so that one ModelMismatch error names them
// all (someone fixing a conversion wants the whole list, not the first miss).
// defines: ConfigReader, is_float_dtype, TensorListCheck
#pragma once
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/checkpoint.h"

namespace dimba {

// Reads typed fields from a config object; every failure is InvalidArgument prefixed with
// `what` ("Dimba config: depth is not an integer"). A missing or null key gives the default.
struct ConfigReader {
  std::string what;

  [[noreturn]] void bad(const std::string& msg) const;
  int get_int(const nlohmann::json& j, const char* key, int def) const;
  int as_int(const nlohmann::json& v, const std::string& key) const;
  double get_num(const nlohmann::json& j, const char* key, double def) const;
  bool get_bool(const nlohmann::json& j, const char* key, bool def) const;
  void check_range(const char* name, double v, double lo, double hi) const;
};

bool is_float_dtype(DType t);  // F32, F16 or BF16: what model weights may be stored as

struct TensorListCheck {
  std::vector<std::string> problems;
  std::set<std::string> seen;  // checkpoint names accounted for

  // Checks that `name` exists with `shape` (or one of `alt_shapes`) and a float dtype, and
  // marks it seen. Returns the entry, or null (recorded as missing, with `missing_hint`).
  const TensorEntry* expect(const Checkpoint& ck, const std::string& name, const std::vector<int64_t>& shape,
                            const std::string& missing_hint = "",
                            const std::vector<std::vector<int64_t>>& alt_shapes = {});
  // Records every tensor not seen (and not `ignore`d) as unexpected.
  void unexpected_rest(const Checkpoint& ck, const std::function<bool(const std::string&)>& ignore = nullptr);
  // Throws ModelMismatch "checkpoint does not match <model>: N problem(s)" + one line each.
  void throw_if_any(const std::string& model) const;
};

}  // namespace dimba
