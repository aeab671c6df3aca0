// v and x0 prediction (DimbaConfig::prediction) and the built-in model's reason for x0: the
// config key, the forward's conversion to eps against an eps model with the same weights, the
// loss and its gradient against central differences, and a tiny built-in model that must
// follow its caption after a short training run. That last case is the one the first
// built-in model (eps prediction) failed: it denoised its training images, yet generated
// images ignored the caption, scoring at chance on every attribute.
// defines: main (test_prediction)
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "builtin/checker.h"
#include "builtin/model.h"
#include "builtin/scenes.h"
#include "builtin/text.h"
#include "core/rng.h"
#include "harness.h"
#include "io/safetensors.h"
#include "sampling/prediction.h"
#include "training/loss.h"
#include "training/train_loop.h"

using namespace dimba;
using namespace dimba::builtin;

namespace {

std::string temp_path(const std::string& name) { return "/tmp/dimba-test-prediction-" + std::to_string(::getpid()) + "-" + name; }

using P = DimbaConfig::Prediction;

void config_key() {
  DimbaConfig c = builtin_dimba_config(64, kBuiltinMaxLength);
  CHECK(c.prediction == P::Sample);
  nlohmann::json j = nlohmann::json::parse(builtin_dimba_config_json(c));
  CHECK(j["prediction_type"] == "sample");
  CHECK(DimbaConfig::from_json(j).prediction == P::Sample);
  j["prediction_type"] = "v_prediction";
  CHECK(DimbaConfig::from_json(j).prediction == P::V);
  j["prediction_type"] = "epsilon";
  CHECK(DimbaConfig::from_json(j).prediction == P::Epsilon);
  j.erase("prediction_type");
  CHECK(DimbaConfig::from_json(j).prediction == P::Epsilon);  // every existing Dimba checkpoint
  for (P p : {P::Epsilon, P::V, P::Sample}) CHECK(DimbaConfig::from_json({{"prediction_type", prediction_type_name(p)}}).prediction == p);
  j["prediction_type"] = "x0";
  CHECK_THROWS_CODE(DimbaConfig::from_json(j), ErrorCode::InvalidArgument);
  j["prediction_type"] = 1;
  CHECK_THROWS_CODE(DimbaConfig::from_json(j), ErrorCode::InvalidArgument);
}

// Random weights with nothing left at zero, so that every output channel depends on the input.
ParamSet random_params(const DimbaConfig& cfg) {
  ParamSet p = builtin_dimba_init(cfg, 11);
  for (size_t i = 0; i < p.count(); ++i) {
    std::vector<float> r(p.numel(i));
    fill_normal(r.data(), r.size(), 12, i * 7919);
    for (size_t k = 0; k < r.size(); ++k)
      if (p.at(i)[k] == 0.f) p.at(i)[k] = 0.05f * r[k];
  }
  return p;
}

void forward_converts_to_eps(P type) {
  DimbaConfig ce = builtin_dimba_config(64, kBuiltinMaxLength, 4, 32);
  ce.prediction = P::Epsilon;
  DimbaConfig cv = ce;
  cv.prediction = type;
  const ParamSet p = random_params(ce);
  std::map<std::string, TensorToSave> t;
  for (size_t i = 0; i < p.count(); ++i) t[p.names[i]] = {DType::F32, p.shapes[i], p.at(i)};
  const std::string path = temp_path("fwd.safetensors");
  save_safetensors(path, t);
  DimbaModel me = DimbaModel::load_file(path, ce, DType::F32), mv = DimbaModel::load_file(path, cv, DType::F32);
  const int B = 2, S = 32, L = kBuiltinMaxLength, n = 3 * S * S;
  std::vector<float> x(size_t(B) * n), y(size_t(B) * L * 64), oe(size_t(B) * 2 * n), ov(oe.size());
  fill_normal(x.data(), x.size(), 1, 0);
  fill_normal(y.data(), y.size(), 2, 0);
  const float ts[B] = {37.f, 612.5f};  // a training step and a sampler's fractional model time
  const int lens[B] = {5, L};
  me.forward(oe.data(), x.data(), ts, y.data(), lens, B, S, S, L);
  mv.forward(ov.data(), x.data(), ts, y.data(), lens, B, S, S, L);
  std::remove(path.c_str());
  const DiscreteVpSchedule& sch = DiscreteVpSchedule::dimba();
  double a, sg;
  vp_alpha_sigma(sch, 37.0, &a, &sg);
  CHECK(std::fabs(a - std::sqrt(sch.acp()[37])) < 1e-6 && std::fabs(sg - std::sqrt(1 - sch.acp()[37])) < 1e-6);
  double worst = 0;
  for (int b = 0; b < B; ++b) {
    vp_alpha_sigma(sch, ts[b], &a, &sg);
    for (int i = 0; i < 2 * n; ++i) {
      const double raw = oe[size_t(b) * 2 * n + size_t(i)];
      const double xi = i < n ? x[size_t(b) * n + size_t(i)] : 0.0;
      const double want = i >= n ? raw : type == P::V ? a * raw + sg * xi : (xi - a * raw) / sg;  // variance half as is
      worst = std::max(worst, std::fabs(ov[size_t(b) * 2 * n + size_t(i)] - want) / (1.0 + std::fabs(want)));
    }
  }
  std::printf("    worst relative difference %.2e\n", worst);
  CHECK(worst < 1e-5);
}

// x0_snr_clip > 0 weights the x0 MSE by clamp(SNR, 1, clip): the gradient check then covers
// the weighted loss, and loss - vb must be that weight times the unweighted mse.
void loss_and_gradient(P type, double x0_snr_clip = 0.0) {
  const int B = 2, C = 3, HW = 4, n = C * HW;
  const DiscreteVpSchedule& sch = DiscreteVpSchedule::dimba();
  std::vector<float> out(size_t(B) * 2 * n), x0(size_t(B) * n), noise(x0.size()), dout(out.size());
  fill_normal(out.data(), out.size(), 5, 0);
  fill_normal(noise.data(), noise.size(), 6, 0);
  fill_normal(x0.data(), x0.size(), 7, 0);
  for (float& v : x0) v = std::tanh(v);
  x0[0] = -1.f;  // an edge bin of the t = 0 likelihood
  const int64_t t[B] = {0, 731};
  // At the exact target the MSE is zero and the VB equals the eps model's with eps = noise.
  {
    std::vector<float> vt = out, et = out;
    for (int b = 0; b < B; ++b) {
      const double acp = sch.acp()[size_t(t[b])];
      for (int i = 0; i < n; ++i) {
        const size_t k = size_t(b) * n + size_t(i);
        vt[size_t(b) * 2 * n + size_t(i)] =
            type == P::V ? float(std::sqrt(acp) * noise[k] - std::sqrt(1 - acp) * x0[k]) : x0[k];
        et[size_t(b) * 2 * n + size_t(i)] = noise[k];
      }
    }
    const IddpmTerms rv = iddpm_loss_reparam(nullptr, vt.data(), x0.data(), noise.data(), t, B, C, HW, sch, type);
    const IddpmTerms re = iddpm_loss(nullptr, et.data(), x0.data(), noise.data(), t, B, C, HW, sch);
    for (int b = 0; b < B; ++b) {
      CHECK(rv.mse[size_t(b)] < 1e-12);
      CHECK(std::fabs(rv.vb[size_t(b)] - re.vb[size_t(b)]) < 1e-5 * (1 + std::fabs(re.vb[size_t(b)])));
    }
  }
  const IddpmTerms weighted =
      iddpm_loss_reparam(dout.data(), out.data(), x0.data(), noise.data(), t, B, C, HW, sch, type, x0_snr_clip);
  for (int b = 0; b < B; ++b) {
    const double snr = sch.acp()[size_t(t[b])] / (1 - sch.acp()[size_t(t[b])]);
    const double w = (x0_snr_clip > 0 && type == P::Sample) ? std::clamp(snr, 1.0, x0_snr_clip) : 1.0;
    const double got = weighted.loss[size_t(b)] - weighted.vb[size_t(b)];
    CHECK(std::fabs(got - w * weighted.mse[size_t(b)]) < 1e-9 * (1 + got));
    if (x0_snr_clip > 0 && type == P::Sample) CHECK(w == (b == 0 ? x0_snr_clip : 1.0));  // t 0: clipped; t 731: floor
  }
  // The prediction half's gradient is the MSE's (the VB holds the mean fixed, as the reference does);
  // the variance half's is the VB's.
  auto value = [&](const std::vector<float>& o, bool mse_only) {
    const IddpmTerms r =
        iddpm_loss_reparam(nullptr, o.data(), x0.data(), noise.data(), t, B, C, HW, sch, type, x0_snr_clip);
    double m = 0;
    for (int b = 0; b < B; ++b) m += (mse_only ? r.loss[size_t(b)] - r.vb[size_t(b)] : r.loss[size_t(b)]) / B;
    return m;
  };
  double worst = 0;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < 2 * n; ++i) {
      const size_t k = size_t(b) * 2 * n + size_t(i);
      const bool v_half = i < n;
      const float h = 1e-2f;
      std::vector<float> p = out, m = out;
      p[k] += h;
      m[k] -= h;
      const double fd = (value(p, v_half) - value(m, v_half)) / (double(p[k]) - double(m[k]));
      worst = std::max(worst, std::fabs(fd - dout[k]) / (1e-4 + std::fabs(fd)));
    }
  std::printf("    worst gradient error %.2e\n", worst);
  CHECK(worst < 2e-3);
  CHECK_THROWS_CODE(iddpm_loss_reparam(nullptr, out.data(), x0.data(), noise.data(),
                                       std::vector<int64_t>{0, 1000}.data(), B, C, HW, sch, type),
                    ErrorCode::InvalidArgument);
}

// A white circle on a red or a blue background, the caption saying which: after a short
// training run, generating from each caption must give its background.
void tiny_model_follows_its_caption() {
  const std::string dir = temp_path("model");
  DimbaConfig cfg = builtin_dimba_config(64, kBuiltinMaxLength, 4, 64);
  write_builtin_parts(dir, 5, cfg);
  Tokenizer tok = Tokenizer::load(dir + "/spiece.model");
  T5Encoder t5 = T5Encoder::load_pretrained(dir + "/t5", T5WeightFormat::F32);
  const int L = kBuiltinMaxLength, S = kBuiltinImageSize;
  const int kRed = 0, kBlue = 4, kWhite = 6;
  auto scene = [&](int bg) {
    Scene s;
    s.shape = 0, s.colour = kWhite, s.background = bg, s.position = 0, s.size = 1;
    return s;
  };
  std::vector<std::string> captions = {full_caption(scene(kRed)), full_caption(scene(kBlue)), ""};
  std::vector<int32_t> ids(3 * L), mask(3 * L);
  for (int i = 0; i < 3; ++i) {
    const T5Tokens tk = tok.encode_t5(captions[size_t(i)], L);
    std::copy(tk.ids.begin(), tk.ids.end(), ids.begin() + i * L);
    std::copy(tk.mask.begin(), tk.mask.end(), mask.begin() + i * L);
  }
  std::vector<float> emb(size_t(3) * L * 64);
  t5.forward(emb.data(), ids.data(), mask.data(), 3, L);
  std::vector<TrainItem> items;
  for (int i = 0; i < 20; ++i) {  // 2 captioned scenes for every unconditional one
    const int which = i % 5 == 4 ? 2 : i % 2;
    TrainItem it;
    it.latent = render_scene(scene(i % 2 ? kBlue : kRed), S);
    it.height = it.width = S;
    it.text.assign(emb.begin() + long(which) * L * 64, emb.begin() + long(which + 1) * L * 64);
    for (int l = 0; l < L; ++l) it.text_len += mask[size_t(which) * L + size_t(l)] != 0;
    items.push_back(std::move(it));
  }
  TrainOptions opt;
  // 300 steps: with the word-order-reading encoder (text.cpp) the caption's difference is spread
  // over several tokens and this tiny model needs 300 steps where it needed 150 before; at 300,
  // eps and v prediction still give wrong backgrounds or colours (checked by hand).
  opt.steps = 300;
  opt.batch_size = 8;
  opt.lr = 2e-3;
  opt.warmup_steps = 10;
  opt.clip_norm = 1.0;
  opt.optimizer = TrainOptions::Optimizer::AdamW;
  opt.caption_dropout = 0.0;
  opt.seed = 3;
  TrainSession s(cfg, builtin_dimba_init(cfg, 4), opt);
  s.run(items);
  BuiltinModel m = BuiltinModel::from_params(dir, s.params());
  const auto imgs = m.generate({captions[0], captions[0], captions[1], captions[1]}, {1, 2, 3, 4}, 20, 4.0);
  const int want[4] = {kRed, kRed, kBlue, kBlue};
  for (int i = 0; i < 4; ++i) {
    const Measurement r = measure_image(imgs[size_t(i)].data(), S);
    std::printf("    \"%s\" seed %d: background %d (want %d), object colour %d shape %d (want %d, %d)\n",
                captions[size_t(i / 2)].c_str(), i + 1, r.background, want[i], r.colour, r.shape, kWhite, 0);
    CHECK(r.background == want[i]);
    // A clean image: the object is found, in its colour (noise left by the sampler hides it).
    CHECK(r.colour == kWhite);
  }
  std::remove((dir + "/t5/model.safetensors").c_str());
  std::remove((dir + "/t5/config.json").c_str());
  ::rmdir((dir + "/t5").c_str());
  for (const char* f : {"/spiece.model", "/dimba.json"}) std::remove((dir + f).c_str());
  ::rmdir(dir.c_str());
}

}  // namespace

int main() {
  harness::run("config_key", config_key);
  harness::run("forward_converts_v_to_eps", [] { forward_converts_to_eps(P::V); });
  harness::run("forward_converts_x0_to_eps", [] { forward_converts_to_eps(P::Sample); });
  harness::run("loss_and_gradient_v", [] { loss_and_gradient(P::V); });
  harness::run("loss_and_gradient_x0", [] { loss_and_gradient(P::Sample); });
  harness::run("loss_and_gradient_x0_snr_weighted", [] { loss_and_gradient(P::Sample, 20.0); });
  harness::run("loss_and_gradient_v_ignores_snr_clip", [] { loss_and_gradient(P::V, 20.0); });
  harness::run("tiny_model_follows_its_caption", tiny_model_follows_its_caption);
  return harness::summary();
}
