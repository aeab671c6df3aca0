// Golden kind "sampler": DIR/CASE.safetensors holding groups `<g>.z` (initial noise [B,...]),
// `<g>.cond`, `<g>.uncond` (per-sample scalars [B]), `<g>.model_t` (every model time, in call
// order) and `<g>.x` (the final sample), laid out like ../shared/golden/dpm-solver.safetensors.
// Each group runs DPM-Solver++(2M) with the README's analytic model
//   eps = 0.4 x cos(t/500) + 0.1 c + 0.05 sin(t/100)   (c the sample's condition)
// under classifier-free guidance; the group name gives steps and scale ("steps20-cfg4.5").
// defines: kSamplerCase
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/safetensors.h"
#include "sampling/cfg.h"
#include "sampling/dpm_solver.h"
#include "verify/cases.h"

namespace dimba {
namespace {

constexpr double kSamplerTol = 1e-5;  // the bound for every model time and the sample

std::string case_path(const std::string& dir, const std::string& name) { return dir + "/" + name + ".safetensors"; }

// Cheap: reads only the JSON header and looks for a `.model_t` tensor name.
bool detect_sampler(const std::string& dir, const std::string& name) {
  std::ifstream f(case_path(dir, name), std::ios::binary);
  unsigned char len8[8];
  if (!f.read(reinterpret_cast<char*>(len8), 8)) return false;
  uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = len << 8 | len8[i];
  if (len == 0 || len > (1u << 20)) return false;
  std::string header(size_t(len), '\0');
  if (!f.read(&header[0], std::streamsize(len))) return false;
  return header.find(".model_t\"") != std::string::npos;
}

const TensorEntry& need(const Checkpoint& ck, const std::string& key, const std::string& path) {
  const TensorEntry* e = ck.find(key);
  if (!e) throw EngineError(ErrorCode::BadFile, path + ": sampler case lacks tensor '" + key + "'");
  return *e;
}

// The golden stores model_t as F64 and everything else as F32. F64 is matched by name so that
// this file needs no change when core/dtype.h gains it (the io reader refuses F64 until then).
std::vector<double> as_doubles(const TensorEntry& e, const std::string& key) {
  if (e.dtype == DType::F32) {
    std::vector<float> f(e.nbytes / 4);
    if (!f.empty()) std::memcpy(f.data(), e.data, e.nbytes);
    return std::vector<double>(f.begin(), f.end());
  }
  if (std::strcmp(dtype_name(e.dtype), "F64") == 0 && dtype_size(e.dtype) == 8) {
    std::vector<double> d(e.nbytes / 8);
    if (!d.empty()) std::memcpy(d.data(), e.data, e.nbytes);
    return d;
  }
  throw EngineError(ErrorCode::UnsupportedFormat,
                    "sampler case tensor '" + key + "' is " + dtype_name(e.dtype) + "; expected F32 or F64");
}

double rel_l2(const std::vector<double>& got, const std::vector<double>& want) {
  if (got.size() != want.size()) return INFINITY;  // fails the line, with the sizes in its name
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// "steps20-cfg4.5" -> 20, 4.5
void parse_group_name(const std::string& g, const std::string& path, int* steps, double* scale) {
  size_t ps = g.find("steps"), pc = g.find("cfg");
  if (ps == std::string::npos || pc == std::string::npos)
    throw EngineError(ErrorCode::BadFile, path + ": group '" + g + "' does not name steps and cfg (steps20-cfg4.5)");
  *steps = std::atoi(g.c_str() + ps + 5);
  *scale = std::atof(g.c_str() + pc + 3);
}

void run_group(const Checkpoint& ck, const std::string& g, const std::string& path, VerifyReport& report) {
  int steps = 0;
  double scale = 0;
  parse_group_name(g, path, &steps, &scale);
  const TensorEntry& ez = need(ck, g + ".z", path);
  std::vector<double> x = as_doubles(ez, g + ".z");
  const std::vector<double> cond = as_doubles(need(ck, g + ".cond", path), g + ".cond");
  const std::vector<double> uncond = as_doubles(need(ck, g + ".uncond", path), g + ".uncond");
  const std::vector<double> want_t = as_doubles(need(ck, g + ".model_t", path), g + ".model_t");
  const std::vector<double> want_x = as_doubles(need(ck, g + ".x", path), g + ".x");
  const size_t b = cond.size();
  if (ez.shape.empty() || size_t(ez.shape[0]) != b || uncond.size() != b || b == 0 || x.size() % b)
    throw EngineError(ErrorCode::BadFile, path + ": group '" + g + "' has mismatched batch sizes");
  const size_t per = x.size() / b;

  std::vector<double> got_t;
  // The network's stand-in: the batch is [uncond half; cond half], each sample its own c.
  GuidedModelFn<double> model = [&](const std::vector<double>& in2, double t, std::vector<double>& out2) {
    got_t.push_back(t);
    out2.resize(in2.size());
    for (size_t k = 0; k < 2 * b; ++k) {
      const double c = k < b ? uncond[k] : cond[k - b];
      for (size_t j = 0; j < per; ++j)
        out2[k * per + j] = 0.4 * in2[k * per + j] * std::cos(t / 500) + 0.1 * c + 0.05 * std::sin(t / 100);
    }
  };
  SamplerHooks hooks;
  hooks.denoise = make_cfg_denoiser<double>(model, int(b), per, per, scale);
  dpm_solver_pp_2m(DiscreteVpSchedule::dimba(), steps, x, hooks);
  report.lines.push_back({g + ".model_t", rel_l2(got_t, want_t), kSamplerTol});
  report.lines.push_back({g + ".x", rel_l2(x, want_x), kSamplerTol});
}

VerifyReport run_sampler_case(const std::string& dir, const std::string& name, const VerifyOptions&) {
  const std::string path = case_path(dir, name);
  Checkpoint ck = load_safetensors(path);
  VerifyReport report;
  report.kind = "sampler";
  const std::string suffix = ".model_t";
  for (const auto& kv : ck.tensors) {
    const std::string& key = kv.first;
    if (key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0)
      run_group(ck, key.substr(0, key.size() - suffix.size()), path, report);
  }
  return report;
}

}  // namespace

extern const GoldenKind kSamplerCase;
const GoldenKind kSamplerCase = {
    "sampler", "CASE.safetensors with <group>.z/.cond/.uncond/.model_t/.x (group names stepsN-cfgS)",
    detect_sampler, run_sampler_case};

}  // namespace dimba
