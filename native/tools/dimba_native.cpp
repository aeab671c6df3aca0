// dimba_native: the engine's node-free command line (the GPU machine has no node). The
// TypeScript CLI (`dimba ...`) calls the same functions through the addon.
//   dimba_native verify-golden DIR CASE [--weights f32|bf16|f16] [--backend auto|cpu|vulkan|cuda]
// prints one line per compared tensor with its relative L2 error and PASS/FAIL and exits 0
// only if all pass; 1 if any fails, 2 on usage errors, 3 on engine errors (with the code).
// defines: main
#include <cstdio>
#include <cstring>
#include <string>

#include "core/error.h"
#include "verify/golden.h"

namespace {

int usage(const char* msg) {
  if (msg) std::fprintf(stderr, "dimba_native: %s\n", msg);
  std::fprintf(stderr,
               "usage: dimba_native verify-golden DIR CASE [--weights f32|bf16|f16] [--backend auto|cpu|vulkan|cuda]\n"
               "  Runs DIR/CASE against its golden tensors and prints each tensor's relative L2 error.\n"
               "  Exit: 0 all pass, 1 a tensor fails, 2 usage, 3 engine error.\n");
  return 2;
}

int verify_golden_cmd(int argc, char** argv) {
  std::string dir, name;
  dimba::VerifyOptions opt;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--weights") {
      if (i + 1 >= argc) return usage("--weights needs a value");
      std::string v = argv[++i];
      if (v == "f32") opt.weight_dtype = dimba::DType::F32;
      else if (v == "bf16") opt.weight_dtype = dimba::DType::BF16;
      else if (v == "f16") opt.weight_dtype = dimba::DType::F16;
      else return usage(("unknown weight dtype '" + v + "'").c_str());
    } else if (a == "--backend") {
      if (i + 1 >= argc) return usage("--backend needs a value");
      opt.backend = argv[++i];
      if (opt.backend != "auto" && opt.backend != "cpu" && opt.backend != "vulkan" && opt.backend != "cuda")
        return usage(("unknown backend '" + opt.backend + "' (auto, cpu, vulkan, cuda)").c_str());
    } else if (a.rfind("--", 0) == 0) {
      return usage(("unknown option '" + a + "'").c_str());
    } else if (dir.empty()) {
      dir = a;
    } else if (name.empty()) {
      name = a;
    } else {
      return usage(("unexpected argument '" + a + "'").c_str());
    }
  }
  if (dir.empty() || name.empty()) return usage("verify-golden needs DIR and CASE");
  try {
    dimba::VerifyReport rep = dimba::verify_golden(dir, name, opt);
    size_t failed = 0;
    for (const auto& l : rep.lines) {
      std::printf("%-40s rel_l2 %.3e  tol %.0e  %s\n", l.name.c_str(), l.rel_err, l.tol, l.pass() ? "PASS" : "FAIL");
      failed += !l.pass();
    }
    std::printf("%s %s (%s, weights %s, backend %s): %zu/%zu passed\n", rep.pass() ? "PASS" : "FAIL", name.c_str(),
                rep.kind.c_str(), dimba::dtype_name(opt.weight_dtype), opt.backend.c_str(), rep.lines.size() - failed,
                rep.lines.size());
    return rep.pass() ? 0 : 1;
  } catch (const dimba::EngineError& e) {
    std::fprintf(stderr, "dimba_native: %s: %s\n", dimba::error_code_name(e.code), e.what());
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dimba_native: E_INTERNAL: %s\n", e.what());
    return 3;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(nullptr);
  std::string cmd = argv[1];
  if (cmd == "verify-golden") return verify_golden_cmd(argc - 2, argv + 2);
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    usage(nullptr);
    return 0;
  }
  return usage(("unknown command '" + cmd + "'").c_str());
}
