#include "models/model_files.h"

#include <cmath>

#include "core/error.h"
#include "core/tensor.h"

namespace dimba {

void ConfigReader::bad(const std::string& msg) const {
  throw EngineError(ErrorCode::InvalidArgument, what + ": " + msg);
}

int ConfigReader::as_int(const nlohmann::json& v, const std::string& key) const {
  if (!v.is_number()) bad(key + " is not a number");
  double d = v.get<double>();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 1e9) bad(key + " is not an integer");
  return int(d);
}

int ConfigReader::get_int(const nlohmann::json& j, const char* key, int def) const {
  return j.contains(key) && !j[key].is_null() ? as_int(j[key], key) : def;
}

double ConfigReader::get_num(const nlohmann::json& j, const char* key, double def) const {
  if (!j.contains(key) || j[key].is_null()) return def;
  const auto& v = j[key];
  if (!v.is_number()) bad(std::string(key) + " is not a number");
  double d = v.get<double>();
  if (!std::isfinite(d)) bad(std::string(key) + " is not finite");
  return d;
}

bool ConfigReader::get_bool(const nlohmann::json& j, const char* key, bool def) const {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_boolean()) bad(std::string(key) + " is not a boolean");
  return j[key].get<bool>();
}

void ConfigReader::check_range(const char* name, double v, double lo, double hi) const {
  if (!(v >= lo && v <= hi))
    bad(std::string(name) + " = " + std::to_string(v) + " outside [" + std::to_string(lo) + ", " +
        std::to_string(hi) + "]");
}

bool is_float_dtype(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

const TensorEntry* TensorListCheck::expect(const Checkpoint& ck, const std::string& name,
                                           const std::vector<int64_t>& shape, const std::string& missing_hint,
                                           const std::vector<std::vector<int64_t>>& alt_shapes) {
  const TensorEntry* e = ck.find(name);
  if (!e) {
    problems.push_back("missing " + name + " " + shape_str(shape) + missing_hint);
    return nullptr;
  }
  seen.insert(name);
  bool shape_ok = e->shape == shape;
  for (const auto& alt : alt_shapes) shape_ok = shape_ok || e->shape == alt;
  if (!shape_ok) problems.push_back("mis-shaped " + name + ": " + shape_str(e->shape) + ", expected " + shape_str(shape));
  if (!is_float_dtype(e->dtype))
    problems.push_back("wrong dtype " + name + ": " + dtype_name(e->dtype) + ", expected F32/F16/BF16");
  else if (e->nbytes != size_t(shape_numel(e->shape)) * dtype_size(e->dtype))
    problems.push_back("wrong byte size " + name);
  return e;
}

void TensorListCheck::unexpected_rest(const Checkpoint& ck, const std::function<bool(const std::string&)>& ignore) {
  for (const auto& [name, e] : ck.tensors)
    if (!seen.count(name) && !(ignore && ignore(name)))
      problems.push_back("unexpected " + name + " " + shape_str(e.shape));
}

void TensorListCheck::throw_if_any(const std::string& model) const {
  if (problems.empty()) return;
  std::string msg = "checkpoint does not match " + model + ": " + std::to_string(problems.size()) + " problem(s)";
  for (const auto& p : problems) msg += "\n  " + p;
  throw EngineError(ErrorCode::ModelMismatch, msg);
}

}  // namespace dimba
