// The whole text-to-image pipeline on the CPU with random weights of the real shapes: Dimba-L/2
// (bf16, 860M parameters), a T5-v1.1-XXL-shaped encoder (bf16, 4.76B parameters, 9.5 GB) and an
// SDXL-shaped VAE, one 512px image, 20 DPM-Solver++ steps with guidance 4.5. Prints seconds
// per image split by stage (text: the prompt and the null caption through T5; sampling: 20
// guided Dimba calls on the doubled batch; decode: the VAE), seconds per step, and memory:
// peak resident set (getrusage) and the weights of each part.
// The tokenizer is the golden tiny SentencePiece model (the real spiece.model is not here);
// T5 computes all 300 positions whatever the prompt, so its cost does not depend on it.
// Weights are made in memory (never written to disk) straight into their storage dtype.
// Usage: bench_pipeline [--steps 20] [--res 512] [--weights bf16|f32] [--t5-int8]
//                       [--t5-layers 24] [--depth 28] [--guidance 4.5] [--sampler dpm++2m]
//                       [--runs 1]
// --t5-layers / --depth shrink the models for a quick run (say so when quoting numbers);
// --runs > 1 repeats the recipe (the second run's text stage comes from the embedding cache).
// Results and the command: native/bench/README.md ("Pipeline").
// defines: main (bench_pipeline)
#include <sys/resource.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/checkpoint.h"
#include "models/dimba.h"
#include "models/t5_encoder.h"
#include "models/vae.h"
#include "pipeline/text_to_image.h"
#include "text/tokenizer.h"

using namespace dimba;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Seconds of CPU this process has used (all threads): on a machine shared with other jobs, wall
// time measures the neighbours as much as the engine, so both are reported.
double cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

double peak_rss_mib() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // KiB on Linux
}

// xorshift64*: uniform numbers fast enough for 5.6 billion weights (normals would dominate).
struct Rand {
  uint64_t s;
  float uniform() {  // [-1, 1)
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return float(int64_t((s * 0x2545F4914F6CDD1Dull) >> 11) - (int64_t(1) << 52)) / float(int64_t(1) << 52);
  }
};

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// One tensor of `dtype` filled chunk by chunk from value(i) (no full-size f32 temporary).
template <class F>
void add_tensor(Checkpoint& ck, const std::string& name, const std::vector<int64_t>& shape, DType dtype, F value) {
  const size_t n = size_t(shape_numel(shape));
  auto mem = aligned_alloc_shared(n * dtype_size(dtype));
  std::vector<float> chunk(size_t(1) << 20);
  for (size_t at = 0; at < n; at += chunk.size()) {
    const size_t m = std::min(chunk.size(), n - at);
    for (size_t i = 0; i < m; ++i) chunk[i] = value(at + i);
    convert_from_f32(static_cast<uint8_t*>(mem.get()) + at * dtype_size(dtype), dtype, chunk.data(), m);
  }
  ck.storage.push_back(mem);
  ck.tensors[name] = TensorEntry{dtype, shape, static_cast<const uint8_t*>(mem.get()), n * dtype_size(dtype)};
}

// Dimba: Linear weights U(-1,1)/sqrt(fan_in); Mamba's own init for A_log, D and the dt bias, so
// the scan decays as a trained model's does. Small tensors f32 (the model keeps them so).
Checkpoint random_dimba(const DimbaConfig& cfg, DType dtype) {
  Checkpoint ck;
  Rand r{0x9E3779B97F4A7C15ull};
  for (const auto& [name, shape] : dimba_expected_tensors(cfg)) {
    const DType dt = shape.size() >= 2 ? dtype : DType::F32;
    if (ends_with(name, "A_log") || ends_with(name, "A_b_log")) {
      const size_t Ns = size_t(shape[1]);
      add_tensor(ck, name, shape, DType::F32, [&](size_t i) { return std::log(float(i % Ns + 1)); });
    } else if (ends_with(name, ".D") || ends_with(name, ".D_b") || ends_with(name, "norm.weight")) {
      add_tensor(ck, name, shape, DType::F32, [](size_t) { return 1.0f; });
    } else if (ends_with(name, "dt_proj.bias") || ends_with(name, "dt_proj_b.bias")) {
      add_tensor(ck, name, shape, DType::F32, [&](size_t) {
        const float dt = std::exp(std::log(1e-3f) + (r.uniform() * 0.5f + 0.5f) * (std::log(1e-1f) - std::log(1e-3f)));
        return dt + std::log(-std::expm1(-dt));  // softplus^-1(dt)
      });
    } else {
      const float scale = shape.size() >= 2 ? 1.0f / std::sqrt(float(shape_numel(shape) / shape[0])) : 0.02f;
      add_tensor(ck, name, shape, dt, [&](size_t) { return r.uniform() * scale; });
    }
  }
  return ck;
}

// T5: matrices U(-1,1)/sqrt(fan_in), the embedding U(-1,1), norms 1, the bucket table small.
Checkpoint random_t5(const T5Config& cfg, DType dtype) {
  Checkpoint ck;
  Rand r{0xD1B54A32D192ED03ull};
  for (const auto& [name, shape] : t5_expected_tensors(cfg)) {
    if (name.find("layer_norm") != std::string::npos) {
      add_tensor(ck, name, shape, DType::F32, [](size_t) { return 1.0f; });
    } else if (name.find("relative_attention_bias") != std::string::npos) {
      add_tensor(ck, name, shape, DType::F32, [&](size_t) { return r.uniform() * 0.5f; });
    } else if (name == "shared.weight" || name == "encoder.embed_tokens.weight") {
      add_tensor(ck, name, shape, dtype, [&](size_t) { return r.uniform(); });
    } else {
      const float scale = 1.0f / std::sqrt(float(shape_numel(shape) / shape[0]));
      add_tensor(ck, name, shape, dtype, [&](size_t) { return r.uniform() * scale; });
    }
  }
  return ck;
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 20, res = 512, t5_layers = 0, depth = 0, runs = 1;
  double guidance = 4.5;
  std::string sampler = "dpm++2m";
  DType dtype = DType::BF16;
  bool t5_int8 = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--steps") steps = std::atoi(next().c_str());
    else if (a == "--res") res = std::atoi(next().c_str());
    else if (a == "--t5-layers") t5_layers = std::atoi(next().c_str());
    else if (a == "--depth") depth = std::atoi(next().c_str());
    else if (a == "--runs") runs = std::max(1, std::atoi(next().c_str()));
    else if (a == "--guidance") guidance = std::atof(next().c_str());
    else if (a == "--sampler") sampler = next();
    else if (a == "--t5-int8") t5_int8 = true;
    else if (a == "--weights") {
      const std::string v = next();
      if (v != "bf16" && v != "f32") {
        std::fprintf(stderr, "--weights takes bf16 or f32\n");
        return 2;
      }
      dtype = v == "bf16" ? DType::BF16 : DType::F32;
    } else {
      std::fprintf(stderr,
                   "usage: bench_pipeline [--steps 20] [--res 512] [--weights bf16|f32] [--t5-int8] [--t5-layers 24] "
                   "[--depth 28] [--guidance 4.5] [--sampler dpm++2m] [--runs 1]\n");
      return 2;
    }
  }
  try {
    DimbaConfig dc = DimbaConfig::dimba_l_2(512);
    if (depth > 0) dc.depth = depth, dc.validate();
    T5Config tc = T5Config::xxl();
    if (t5_layers > 0) tc.num_layers = t5_layers, tc.validate();
    const VaeConfig vc = VaeConfig::sdxl();
    std::printf("pipeline bench: %dpx, %d steps %s, guidance %.1f | Dimba-L/2 depth %d | T5 %d layers d_model %d (%s) | "
                "SDXL VAE | weights %s\n",
                res, steps, sampler.c_str(), guidance, dc.depth, tc.num_layers, tc.d_model,
                t5_int8 ? "int8" : dtype_name(dtype), dtype_name(dtype));

    double t0 = now_s();
    // Run from the repository root, the golden folder is ../shared/golden; DIMBA_GOLDEN_DIR overrides.
    const char* golden = std::getenv("DIMBA_GOLDEN_DIR");
    Tokenizer tok = Tokenizer::load(std::string(golden ? golden : "../shared/golden") + "/tiny-spiece.model");
    T5Encoder t5 = [&] {
      Checkpoint ck = random_t5(tc, dtype);
      return T5Encoder::load(ck, tc, t5_int8 ? T5WeightFormat::Int8
                                             : dtype == DType::BF16 ? T5WeightFormat::BF16 : T5WeightFormat::F32);
    }();
    const double t5_made = now_s() - t0;
    t0 = now_s();
    DimbaModel dimba = [&] {
      Checkpoint ck = random_dimba(dc, dtype);
      return DimbaModel::load(ck, dc, dtype);
    }();
    VaeModel vae = [&] {
      Checkpoint ck = vae_random_checkpoint(vc, 7);
      return VaeModel::load(ck, vc, dtype);
    }();
    const size_t t5_bytes = t5.weight_bytes(), dimba_bytes = dimba.weight_bytes(), vae_bytes = vae.weight_bytes();
    std::printf("  random weights made: T5 %.1f s (%.0f MiB), Dimba + VAE %.1f s (%.0f + %.0f MiB); RSS peak so far %.0f MiB\n",
                t5_made, t5_bytes / 1048576.0, now_s() - t0, dimba_bytes / 1048576.0, vae_bytes / 1048576.0,
                peak_rss_mib());

    PipelineModelInfo info;
    info.id = "bench-random";
    info.name = "random Dimba-L / T5-XXL / SDXL VAE";
    Pipeline p = Pipeline::from_parts(info, std::move(tok), std::move(t5), std::move(dimba), std::move(vae));

    Recipe r;
    r.prompt = "a photograph of an astronaut riding a horse on the moon, detailed, 35mm";
    r.seed = 1;
    r.steps = steps;
    r.guidance = guidance;
    r.sampler = sampler;
    r.width = r.height = res;
    for (int run = 0; run < runs; ++run) {
      std::vector<double> step_end;
      double sampling_start = 0, cpu_text = 0, cpu_sampling = 0, cpu_decode_start = 0;
      const double cpu_start = cpu_s();
      GenerateHooks h;
      h.on_progress = [&](const GenerateProgress& g) {
        if (g.stage == PipelineStage::Sampling) {
          step_end.push_back(now_s());
          std::fprintf(stderr, "\r  step %d/%d", g.step, g.steps);
        } else if (g.stage == PipelineStage::Decoding) {
          cpu_decode_start = cpu_s();
          cpu_sampling = cpu_decode_start - cpu_start - cpu_text;
          std::fprintf(stderr, "\r  decoding...        ");
        }
        return StepAction::Continue;
      };
      h.on_model_call = [&](const ModelCallInfo&) {
        if (sampling_start == 0) {
          sampling_start = now_s();
          cpu_text = cpu_s() - cpu_start;
        }
      };
      const double start = now_s();
      GenerateResult res_ = p.generate(r, h);
      const double total = now_s() - start;
      const double cpu_total = cpu_s() - cpu_start, cpu_decode = cpu_s() - cpu_decode_start;
      std::fprintf(stderr, "\n");
      std::vector<double> per_step;
      for (size_t i = 0; i < step_end.size(); ++i) per_step.push_back(step_end[i] - (i ? step_end[i - 1] : sampling_start));
      std::sort(per_step.begin(), per_step.end());
      const double med_step = per_step.empty() ? 0 : per_step[per_step.size() / 2];
      int lo = 255, hi = 0;
      for (uint8_t v : res_.images[0].rgb) lo = std::min(lo, int(v)), hi = std::max(hi, int(v));
      std::printf("RESULT run %d: %.1f s/image | text %.1f s | sampling %.1f s (%.2f s/step median, %d model calls on "
                  "batch 2) | decode %.1f s | pixels [%d, %d]\n",
                  run, total, res_.times.text, res_.times.sampling, med_step, steps, res_.times.decode, lo, hi);
      std::printf("RESULT run %d CPU seconds (all threads): %.1f | text %.1f | sampling %.1f (%.2f per step) | decode %.1f\n",
                  run, cpu_total, cpu_text, cpu_sampling, cpu_sampling / steps, cpu_decode);
    }
    std::printf("RESULT memory: peak RSS %.0f MiB | weights: T5 %.0f MiB, Dimba %.0f MiB, VAE %.0f MiB\n", peak_rss_mib(),
                t5_bytes / 1048576.0, dimba_bytes / 1048576.0, vae_bytes / 1048576.0);
  } catch (const EngineError& e) {
    std::fprintf(stderr, "bench_pipeline: %s: %s\n", error_code_name(e.code), e.what());
    return 1;
  }
  return 0;
}
