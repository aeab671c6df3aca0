// One Dimba training step against the float64 reference (golden/dimba-tiny.train.safetensors,
// README there): the IDDPM loss terms per sample and every parameter gradient of the
// batch-mean loss within 1e-4 (relative L2), the global gradient norm, and CAME's parameter
// changes after clipping to norm 0.05 and one / three steps (lr 1e-3, the golden gradients
// each step) within 1e-5. Also: gradient checkpointing gives the same gradients, and caption
// dropout sends a gradient to the null caption; a backend without the training ops is refused.
// defines: main (test_train_golden)
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "harness.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "sampling/schedule.h"
#include "training/dimba_train.h"
#include "training/loss.h"
#include "training/optim.h"
#include "verify/golden.h"

using namespace dimba;

namespace {

std::vector<float> floats(const Checkpoint& ck, const std::string& name) {
  const TensorEntry* e = ck.find(name);
  if (!e) throw EngineError(ErrorCode::BadFile, "golden: missing " + name);
  size_t n = size_t(shape_numel(e->shape));
  std::vector<float> v(n);
  convert_to_f32(v.data(), e->data, e->dtype, n);
  return v;
}

std::vector<int64_t> ints(const Checkpoint& ck, const std::string& name) {
  const TensorEntry* e = ck.find(name);
  if (!e || e->dtype != DType::I64) throw EngineError(ErrorCode::BadFile, "golden: missing I64 " + name);
  std::vector<int64_t> v(e->nbytes / 8);
  std::memcpy(v.data(), e->data, e->nbytes);
  return v;
}

struct Case {
  DimbaConfig cfg;
  Checkpoint weights, golden;
  int B = 0, Cin = 0, H = 0, W = 0, L = 0;
  std::vector<float> x0, noise, y, xt, tf;
  std::vector<int64_t> t;
  std::vector<int> lens;
};

Case load_case() {
  Case c;
  std::string p = harness::golden_path("dimba-tiny.json");
  c.cfg = DimbaConfig::from_json(parse_json_untrusted(read_text_file(p), p));
  c.weights = load_safetensors(harness::golden_path("dimba-tiny.weights.safetensors"));
  c.golden = load_safetensors(harness::golden_path("dimba-tiny.train.safetensors"));
  const TensorEntry* ex = c.golden.find("input.x0");
  CHECK(ex && ex->shape.size() == 4);
  c.B = int(ex->shape[0]), c.Cin = int(ex->shape[1]), c.H = int(ex->shape[2]), c.W = int(ex->shape[3]);
  c.x0 = floats(c.golden, "input.x0");
  c.noise = floats(c.golden, "input.noise");
  c.y = floats(c.golden, "input.y");
  c.L = int(c.golden.find("input.y")->shape[2]);
  c.t = ints(c.golden, "input.t");
  std::vector<int64_t> mask = ints(c.golden, "input.mask");
  c.lens = mask_to_lengths(mask.data(), c.B, c.L);
  const int64_t n = int64_t(c.Cin) * c.H * c.W;
  c.xt.resize(c.x0.size());
  iddpm_noisy_input(c.xt.data(), c.x0.data(), c.noise.data(), c.t.data(), c.B, n, DiscreteVpSchedule::dimba());
  for (int64_t v : c.t) c.tf.push_back(float(v));
  return c;
}

// Forward, loss, backward: returns the loss terms; gradients are left in tr.grads().
IddpmTerms train_step(Case& c, DimbaTrainer& tr, const uint8_t* drop = nullptr) {
  std::vector<float> out(size_t(c.B) * c.cfg.out_channels * c.H * c.W), dout(out.size());
  tr.forward(out.data(), c.xt.data(), c.tf.data(), c.y.data(), c.lens.data(), c.B, c.H, c.W, c.L, drop);
  IddpmTerms r = iddpm_loss(dout.data(), out.data(), c.x0.data(), c.noise.data(), c.t.data(), c.B, c.Cin,
                            int64_t(c.H) * c.W, DiscreteVpSchedule::dimba());
  tr.backward(dout.data());
  return r;
}

void check_terms(const char* what, const std::vector<double>& got, const std::vector<float>& want, double tol) {
  std::vector<float> g(got.begin(), got.end());
  const double e = harness::rel_l2(g.data(), want.data(), want.size());
  std::printf("    %-40s rel_l2 %.3e (tol %.0e)\n", what, e, tol);
  if (!(e <= tol)) harness::fail(__FILE__, __LINE__, what);
}

void loss_and_gradients() {
  Case c = load_case();
  ParamSet params = ParamSet::from_checkpoint(c.weights, c.cfg);
  DimbaTrainer tr(c.cfg, params);
  IddpmTerms r = train_step(c, tr);
  check_terms("loss.mse", r.mse, floats(c.golden, "loss.mse"), 1e-4);
  check_terms("loss.vb", r.vb, floats(c.golden, "loss.vb"), 1e-4);
  check_terms("loss.loss", r.loss, floats(c.golden, "loss.loss"), 1e-4);
  check_terms("grad_norm", {grad_global_norm(tr.grads())}, floats(c.golden, "grad_norm"), 1e-4);
  // Every grad.* of the golden, worst first.
  std::vector<std::pair<double, std::string>> errs;
  int n = 0;
  for (const auto& [key, e] : c.golden.tensors) {
    if (key.rfind("grad.", 0) != 0) continue;
    const std::string name = key.substr(5);
    std::vector<float> want = floats(c.golden, key);
    CHECK(tr.grads().has(name));
    if (!tr.grads().has(name)) continue;
    errs.push_back({harness::rel_l2(tr.grads().get(name), want.data(), want.size()), name});
    ++n;
  }
  std::sort(errs.rbegin(), errs.rend());
  std::printf("    %d gradients; worst:\n", n);
  for (size_t i = 0; i < errs.size() && i < 6; ++i)
    std::printf("      grad.%-44s rel_l2 %.3e (tol 1e-04)\n", errs[i].second.c_str(), errs[i].first);
  CHECK(n == int(params.count()) - 1);  // all but y_embedder.y_embedding (no dropout here)
  for (auto& [e, name] : errs)
    if (!(e <= 1e-4)) harness::fail(__FILE__, __LINE__, "grad." + name);
}

// Gradient checkpointing recomputes each block in backward: the same gradients.
void checkpointing_same_gradients() {
  Case c = load_case();
  ParamSet params = ParamSet::from_checkpoint(c.weights, c.cfg);
  DimbaTrainer full(c.cfg, params), ckpt(c.cfg, params);
  ckpt.set_checkpointing(true);
  train_step(c, full);
  const size_t full_bytes = full.saved_activation_bytes();
  train_step(c, ckpt);
  std::printf("    saved activations: %zu bytes, with checkpointing %zu\n", full_bytes,
              ckpt.saved_activation_bytes());
  CHECK(ckpt.saved_activation_bytes() < full_bytes / 4);
  CHECK_REL(ckpt.grads().data.data(), full.grads().data.data(), full.grads().data.size(), 1e-6);
}

// Caption dropout: the dropped sample sees the null caption, which gets a gradient.
void caption_dropout_reaches_null_caption() {
  Case c = load_case();
  ParamSet params = ParamSet::from_checkpoint(c.weights, c.cfg);
  DimbaTrainer tr(c.cfg, params);
  const uint8_t drop[2] = {1, 0};
  train_step(c, tr, drop);
  const float* g = tr.grads().get("y_embedder.y_embedding");
  double s = 0.0;
  for (int i = 0; i < c.L * c.cfg.caption_channels; ++i) s += double(g[i]) * g[i];
  std::printf("    |grad y_embedding| = %.3e\n", std::sqrt(s));
  CHECK(s > 0.0);
}

// CAME from the golden gradients, as reference/spec_came.py: clip to 0.05, 1 and 3 steps.
void came_matches_reference() {
  Case c = load_case();
  ParamSet params = ParamSet::from_checkpoint(c.weights, c.cfg);
  ParamSet grads = ParamSet::zeros_like(params);
  for (size_t i = 0; i < grads.count(); ++i) {
    const std::string key = "grad." + grads.names[i];
    if (!c.golden.find(key)) continue;
    std::vector<float> v = floats(c.golden, key);
    std::copy(v.begin(), v.end(), grads.at(i));
  }
  clip_grad_norm(grads, 0.05);
  CameOptions opt;
  opt.lr = 1e-3;
  Came came(params, opt);
  came.set_trainable("y_embedder.y_embedding", false);  // no gradient in this step
  ParamSet applied = ParamSet::zeros_like(params);
  for (int step = 1; step <= 3; ++step) {
    came.step(params, grads, &applied);
    if (step == 2) continue;
    double worst = 0.0;
    std::string worst_name;
    for (size_t i = 0; i < params.count(); ++i) {
      const std::string key = "dcame" + std::to_string(step) + "." + params.names[i];
      if (!c.golden.find(key)) continue;
      std::vector<float> want = floats(c.golden, key);
      const double e = harness::rel_l2(applied.at(i), want.data(), want.size());
    if (e > worst) worst = e, worst_name = params.names[i];
    }
    std::printf("    dcame%d worst rel_l2 %.3e (%s) (tol 1e-05)\n", step, worst, worst_name.c_str());
    if (!(worst <= 1e-5)) harness::fail(__FILE__, __LINE__, "dcame" + std::to_string(step));
  }
}

// The IDDPM loss gradient against central differences, on both branches (t = 0: the
// discretised likelihood with its open edge bins; t > 0: the KL) which the golden step
// (t = 981, 13) covers only in part.
void iddpm_loss_gradient() {
  const int B = 3, C = 2, HW = 5;
  const int64_t t[3] = {0, 1, 700};
  std::vector<float> out(size_t(B) * 2 * C * HW), x0(size_t(B) * C * HW), noise(x0.size());
  uint32_t s = 12345;
  auto rnd = [&]() {  // uniform in [-1, 1), deterministic
    s = s * 1664525u + 1013904223u;
    return float(s >> 8) / float(1 << 23) - 1.0f;
  };
  for (auto& v : out) v = rnd();
  for (auto& v : noise) v = 2.0f * rnd();
  for (auto& v : x0) v = rnd();
  x0[0] = -1.0f;  // the open edge bins of the t = 0 likelihood
  x0[1] = 1.0f;
  const DiscreteVpSchedule& sch = DiscreteVpSchedule::dimba();
  std::vector<float> dout(out.size());
  iddpm_loss(dout.data(), out.data(), x0.data(), noise.data(), t, B, C, HW, sch);
  // vb treats eps as a constant (MODEL.md 7): differentiate the vb part through v only, and the
  // mse part through eps only, so compare d(mse)/d(eps) and d(vb)/d(v) separately.
  std::vector<float> num(out.size());
  const float h = 1e-3f;
  for (size_t i = 0; i < out.size(); ++i) {
    const bool is_v = (i / (C * HW)) % 2 == 1;
    const float v = out[i];
    auto part = [&](const IddpmTerms& r) {
      double a = 0.0;
      for (int b = 0; b < B; ++b) a += (is_v ? r.vb[size_t(b)] : r.mse[size_t(b)]) / B;
      return a;
    };
    out[i] = v + h;
    const double lp = part(iddpm_loss(nullptr, out.data(), x0.data(), noise.data(), t, B, C, HW, sch));
    out[i] = v - h;
    const double lm = part(iddpm_loss(nullptr, out.data(), x0.data(), noise.data(), t, B, C, HW, sch));
    out[i] = v;
    num[i] = float((lp - lm) / (2.0 * h));
  }
  CHECK_REL(dout.data(), num.data(), num.size(), 1e-4);
}

// AdamW against torch.optim.AdamW's update written out for one tensor and two steps, and the
// change it reports through `applied`. 37 elements: the vectorised body and its tail.
void adamw_two_steps() {
  const size_t n = 37;
  ParamSet p;
  p.names = {"w"};
  p.shapes = {{int64_t(n)}};
  p.offsets = {0};
  p.index["w"] = 0;
  p.data.resize(n);
  ParamSet g = ParamSet::zeros_like(p);
  for (size_t k = 0; k < n; ++k) {
    p.data[k] = 0.5f + 0.1f * float(k) * (k % 2 ? -1.0f : 1.0f);
    g.data[k] = 0.3f * std::sin(float(k) + 1.0f);
  }
  AdamWOptions o;
  o.lr = 0.01, o.weight_decay = 0.1;
  AdamW opt(p, o);
  ParamSet applied = ParamSet::zeros_like(p);
  const std::vector<double> start(p.data.begin(), p.data.end());
  std::vector<double> want = start, m(n, 0.0), v(n, 0.0);
  for (int step = 1; step <= 2; ++step) {
    opt.step(p, g, &applied);
    for (size_t k = 0; k < n; ++k) {
      const double gk = g.data[k];
      want[k] *= 1.0 - o.lr * o.weight_decay;
      m[k] = 0.9 * m[k] + 0.1 * gk;
      v[k] = 0.999 * v[k] + 0.001 * gk * gk;
      const double mh = m[k] / (1.0 - std::pow(0.9, step)), vh = v[k] / (1.0 - std::pow(0.999, step));
      want[k] -= o.lr * mh / (std::sqrt(vh) + o.eps);
    }
  }
  std::vector<float> wf(want.begin(), want.end()), change(n);
  CHECK_REL(p.data.data(), wf.data(), n, 1e-6);
  for (size_t k = 0; k < n; ++k) change[k] = float(want[k] - start[k]);
  CHECK_REL(applied.data.data(), change.data(), n, 1e-6);  // the summed updates, each rounded once
}

// dimba-wide (gap 2: Mamba after every other block, non-square 6x10 latent, three text
// lengths, pe_interpolation 2), which has no training golden: the training forward matches
// the forward golden, and every parameter's gradient matches a five-point difference of
// L = <w, out> along a random direction within 1e-2 relative plus the float32 rounding floor.
void wide_forward_and_directional_gradients() {
  std::string p = harness::golden_path("dimba-wide.json");
  DimbaConfig cfg = DimbaConfig::from_json(parse_json_untrusted(read_text_file(p), p));
  CHECK(cfg.gap() == 2);
  ParamSet params = ParamSet::from_checkpoint(load_safetensors(harness::golden_path("dimba-wide.weights.safetensors")), cfg);
  Checkpoint io = load_safetensors(harness::golden_path("dimba-wide.io.safetensors"));
  std::vector<float> x = floats(io, "input.x"), t = floats(io, "input.t"), y = floats(io, "input.y");
  std::vector<float> want = floats(io, "output");
  std::vector<int64_t> mask = ints(io, "input.mask");
  const TensorEntry* ex = io.find("input.x");
  const int B = int(ex->shape[0]), H = int(ex->shape[2]), W = int(ex->shape[3]), L = int(io.find("input.y")->shape[2]);
  std::vector<int> lens = mask_to_lengths(mask.data(), B, L);
  DimbaTrainer tr(cfg, params);
  std::vector<float> out(want.size()), w(want.size());
  tr.forward(out.data(), x.data(), t.data(), y.data(), lens.data(), B, H, W, L);
  CHECK_REL(out.data(), want.data(), want.size(), 1e-4);
  uint32_t s = 99;
  auto rnd = [&]() {
    s = s * 1664525u + 1013904223u;
    return float(s >> 8) / float(1 << 23) - 1.0f;
  };
  for (auto& v : w) v = rnd();
  tr.backward(w.data());
  auto loss = [&]() {
    DimbaTrainer f(cfg, params);
    std::vector<float> o(want.size());
    f.forward(o.data(), x.data(), t.data(), y.data(), lens.data(), B, H, W, L);
    double a = 0.0;
    for (size_t i = 0; i < o.size(); ++i) a += double(w[i]) * o[i];
    return a;
  };
  double worst = 0.0;
  std::string worst_name;
  int checked = 0;
  for (size_t i = 0; i < params.count(); ++i) {
    if (params.names[i] == "y_embedder.y_embedding") continue;  // unused without dropout
    const size_t n = params.numel(i);
    float* pi = params.at(i);
    std::vector<float> v(n), orig(pi, pi + n);
    double rms = 0.0, an = 0.0;
    for (size_t k = 0; k < n; ++k) rms += double(orig[k]) * orig[k];
    rms = std::sqrt(rms / double(n));
    const double h = 1e-2;  // absolute: v is in [-1, 1), so each weight moves by up to 1e-2
    for (size_t k = 0; k < n; ++k) {
      v[k] = rnd();
      an += double(tr.grads().at(i)[k]) * v[k];
    }
    auto at = [&](double step) {
      for (size_t k = 0; k < n; ++k) pi[k] = float(orig[k] + step * v[k]);
      return loss();
    };
    // Five-point stencil: truncation O(h^4), so h can be large enough to rise above rounding.
    const double fd = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12.0 * h);
    std::copy(orig.begin(), orig.end(), pi);
    // Error over the allowance 1e-2 |grad . v| + 5e-3: the float32 forward leaves about 1e-3
    // of absolute rounding in the five-point difference (measured: the worst tensors sit there).
    const double e = std::fabs(fd - an) / (1e-2 * std::fabs(an) + 5e-3);
    if (e > 0.5) std::printf("      %-44s fd %.6e grad.v %.6e\n", params.names[i].c_str(), fd, an);
    if (e > worst) worst = e, worst_name = params.names[i];
    ++checked;
  }
  std::printf("    %d tensors, worst |fd - grad.v| / (1e-2 |grad.v| + 5e-3) = %.3f (%s) (must be <= 1)\n", checked,
              worst, worst_name.c_str());
  CHECK(worst <= 1.0);
}

// `dimba verify-golden DIR dimba-tiny.train` finds the training kind and passes.
void verify_golden_train_kind() {
  VerifyReport rep = verify_golden(harness::golden_path(""), "dimba-tiny.train", VerifyOptions());
  CHECK(rep.kind == "train");
  CHECK(rep.lines.size() > 200);
  int failed = 0;
  for (const CompareLine& l : rep.lines) failed += !l.pass();
  std::printf("    %zu lines, %d failed\n", rep.lines.size(), failed);
  CHECK(rep.pass());
}

// A backend whose table lacks a training op cannot train: a typed refusal naming the op, at
// construction, before any memory is placed.
void backend_without_training_ops_is_refused() {
  Case c = load_case();
  ParamSet params = ParamSet::from_checkpoint(c.weights, c.cfg);
  Backend partial = cpu_backend();
  partial.name = "partial";
  partial.selective_scan_backward = nullptr;
  partial.zero = nullptr;
  try {
    DimbaTrainer tr(c.cfg, params, nullptr, 1.0, partial);
    harness::fail(__FILE__, __LINE__, "a backend without selective_scan_backward was accepted");
  } catch (const EngineError& e) {
    std::printf("    %s\n", e.what());
    CHECK(e.code == ErrorCode::BackendUnavailable);
    CHECK(std::string(e.what()).find("zero, ") != std::string::npos);
    CHECK(std::string(e.what()).find("selective_scan_backward") != std::string::npos);
  }
}

}  // namespace

int main() {
  RUN(loss_and_gradients);
  RUN(checkpointing_same_gradients);
  RUN(caption_dropout_reaches_null_caption);
  RUN(came_matches_reference);
  RUN(iddpm_loss_gradient);
  RUN(adamw_two_steps);
  RUN(verify_golden_train_kind);
  RUN(wide_forward_and_directional_gradients);
  RUN(backend_without_training_ops_is_refused);
  return harness::summary();
}
