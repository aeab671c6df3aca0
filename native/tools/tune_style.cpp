// tune_style: issue 12's acceptance measurement (tuning/style_score.h measure_style_shift): the
// built-in model tuned (LoRA) on green stars on black with neutral captions, the built-in
// checker's style share on neutral prompts for the base model, at each save, and the base
// model again from its untouched files.
//   tune_style --model assets/builtin [--run DIR] [--steps N] [--save-every N] [--images N]
//              [--seeds N] [--rank R] [--batch B] [--lr X] [--sample-steps N]
// Prints one JSON line per checkpoint, then a summary line. Exit: 0 ok, 2 usage, 3 engine error.
// defines: main
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include "core/error.h"
#include "tuning/style_score.h"

using namespace dimba;

int main(int argc, char** argv) {
  try {
    std::map<std::string, std::string> kv;
    for (int i = 1; i < argc; i += 2) {
      if (i + 1 >= argc || std::strncmp(argv[i], "--", 2) != 0)
        throw EngineError(ErrorCode::InvalidArgument, std::string("bad argument ") + argv[i]);
      kv[argv[i] + 2] = argv[i + 1];
    }
    auto num = [&](const char* k, double d) { return kv.count(k) ? std::atof(kv[k].c_str()) : d; };
    if (!kv.count("model")) throw EngineError(ErrorCode::InvalidArgument, "--model DIR is required");
    StyleShiftOptions o;
    o.model_dir = kv["model"];
    o.run_dir = kv.count("run") ? kv["run"] : "/tmp/dimba-tune-style-" + std::to_string(::getpid());
    o.steps = int64_t(num("steps", 200));
    o.save_every = int64_t(num("save-every", 50));
    o.images = int(num("images", 24));
    o.seeds = int(num("seeds", 4));
    o.rank = int(num("rank", 8));
    o.batch = int(num("batch", 8));
    o.lr = num("lr", 2e-3);
    o.sample_steps = int(num("sample-steps", 20));
    const StyleShift r = measure_style_shift(o, [](const TuningCheckpoint& c, const StyleScore& s) {
      std::printf("{\"step\":%lld,\"train_loss\":%.5f,\"validation_loss\":%.5f,\"score\":%s}\n", (long long)c.step,
                  c.train_loss, c.validation_loss, s.json().c_str());
      std::fflush(stdout);
    });
    std::printf("{\"steps\":%lld,\"seconds\":%.1f,\"validation_start\":%.5f,\"base\":%s,\"base_after\":%s,"
                "\"base_images_identical\":%s,\"tuned\":%s,\"shift_mean\":%.4f,\"shift_all\":%.4f}\n",
                (long long)r.step, r.seconds, r.start_validation_loss, r.base.json().c_str(), r.base_after.json().c_str(),
                r.base_images_identical ? "true" : "false", r.tuned.json().c_str(), r.tuned.mean() - r.base.mean(),
                r.tuned.all - r.base.all);
    if (!kv.count("run")) std::filesystem::remove_all(o.run_dir);
    return 0;
  } catch (const EngineError& e) {
    std::fprintf(stderr, "tune_style: %s: %s\n", error_code_name(e.code), e.what());
    return e.code == ErrorCode::InvalidArgument ? 2 : 3;
  }
}
