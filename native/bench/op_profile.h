// Where a whole forward's time goes, op by op. `profiled(be)` returns a copy of a backend's op
// table that calls straight through until `profile_start()`; from then until `profile_stop()`
// every op synchronises the device, runs, synchronises again and adds its time to a row (the
// op, and for Linears and attention their shape). bench_cuda's op table times chosen ops alone;
// this catches everything a forward calls (the small GEMMs, copies, adds, norms).
// A block op (composed.h) that runs as a composition calls the profiled table's ops: they get
// their own rows, and the block's row keeps only its own time (a fused block: all of it).
// The synchronisations cost a few microseconds an op on a GPU, so a bench prints the profiled
// forward's total beside an unprofiled one. Never profile inside a CUDA graph capture
// (synchronising there is an error). One profile at a time: a table of function pointers has
// no room for a closure, so the state is process-wide.
// defines: OpRow, profiled, profile_start, profile_stop, profile_table
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "backend/backend.h"

namespace dimba::bench {

struct OpRow {
  std::string op;  // "linear_forward 1152->3456 (M 8192)"
  int calls = 0;
  double seconds = 0;
};

namespace profile_detail {

inline const Backend* inner = nullptr;
inline bool on = false;
inline std::map<std::string, OpRow> rows;
inline double nested_s = 0;  // time spent in profiled ops called from the op being timed

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <class F>
struct Timed;

// One instantiation per op (every op returns void): `At<&Backend::op>::call` has the op's exact
// signature; `describe`, where set, names the call's shape.
template <class... A>
struct Timed<void (*)(A...)> {
  template <auto Op>
  struct At {
    static inline const char* name = nullptr;
    static inline std::string (*describe)(A...) = nullptr;
    static void call(A... a) {
      if (!on) return (inner->*Op)(a...);
      const std::string key = describe ? std::string(name) + " " + describe(a...) : std::string(name);
      const double outer = nested_s;  // the time of the ops this one calls counts as theirs
      nested_s = 0;
      inner->synchronize();
      const double t0 = now_s();
      (inner->*Op)(a...);
      inner->synchronize();
      const double t = now_s() - t0;
      OpRow& r = rows[key];
      r.op = key;
      r.seconds += t - nested_s;
      r.calls += 1;
      nested_s = outer + t;
    }
  };
};

template <auto Op, class Describe = std::nullptr_t>
void wrap(Backend& b, const char* name, Describe describe = nullptr) {
  if (!(b.*Op)) return;  // an op the backend lacks stays null
  using At = typename Timed<std::remove_reference_t<decltype(b.*Op)>>::template At<Op>;
  At::name = name;
  if constexpr (!std::is_same_v<Describe, std::nullptr_t>) At::describe = describe;
  b.*Op = &At::call;
}

inline std::string shape(const char* fmt, int a, int b, int c) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, a, b, c);
  return buf;
}

}  // namespace profile_detail

inline void profile_start() {
  profile_detail::rows.clear();
  profile_detail::on = true;
}

// The rows since profile_start(), slowest first; timing off again.
inline std::vector<OpRow> profile_stop() {
  profile_detail::on = false;
  std::vector<OpRow> out;
  for (const auto& [key, r] : profile_detail::rows) out.push_back(r);
  std::sort(out.begin(), out.end(), [](const OpRow& a, const OpRow& b) { return a.seconds > b.seconds; });
  return out;
}

// The rows of one profiled call as markdown lines: a title (with the rows' total against the
// same call's unprofiled time), then the slowest `shown` rows and the rest summed.
inline std::vector<std::string> profile_table(const char* what, const std::vector<OpRow>& rows, double unprofiled_s,
                                              size_t shown = 24) {
  double total = 0;
  for (const auto& r : rows) total += r.seconds;
  std::vector<std::string> out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s, op by op (each op synchronised: %.2f ms in all, %.2f ms unprofiled)", what,
                total * 1e3, unprofiled_s * 1e3);
  out.push_back(buf);
  out.push_back("| op | calls | ms | share |");
  out.push_back("| --- | ---: | ---: | ---: |");
  double rest = 0;
  int rest_calls = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i >= shown) {
      rest += rows[i].seconds, rest_calls += rows[i].calls;
      continue;
    }
    std::snprintf(buf, sizeof buf, "| %s | %d | %.3f | %.1f%% |", rows[i].op.c_str(), rows[i].calls,
                  rows[i].seconds * 1e3, 100.0 * rows[i].seconds / total);
    out.push_back(buf);
  }
  if (rest_calls > 0) {
    std::snprintf(buf, sizeof buf, "| the rest | %d | %.3f | %.1f%% |", rest_calls, rest * 1e3, 100.0 * rest / total);
    out.push_back(buf);
  }
  return out;
}

// name, host_memory, the six memory calls, set_reduced_precision and the 47 ops listed below:
// a Backend that grows an op fails here until the op is listed.
static_assert(sizeof(Backend) == 56 * sizeof(void*), "profile the new Backend op in bench/op_profile.h");

// The profiling copy of `be` (memory calls pass through untimed). Valid while `be` lives;
// a later call re-targets every copy made before it.
inline const Backend& profiled(const Backend& be) {
  using profile_detail::wrap;
  static Backend b;
  profile_detail::inner = &be;
  b = be;
#define DIMBA_PROFILE_OP(op) wrap<&Backend::op>(b, #op)
  wrap<&Backend::linear_forward>(b, "linear_forward",
                                 +[](float*, const float*, const void*, DType, const float*, int M, int K, int N, bool) {
                                   return profile_detail::shape("%d->%d (M %d)", K, N, M);
                                 });
  DIMBA_PROFILE_OP(sgemm);
  DIMBA_PROFILE_OP(layernorm_forward);
  DIMBA_PROFILE_OP(rmsnorm_forward);
  DIMBA_PROFILE_OP(modulate_forward);
  DIMBA_PROFILE_OP(gated_residual_forward);
  DIMBA_PROFILE_OP(gelu_tanh_forward);
  DIMBA_PROFILE_OP(silu_forward);
  DIMBA_PROFILE_OP(softplus_forward);
  DIMBA_PROFILE_OP(add_forward);
  DIMBA_PROFILE_OP(add_row_forward);
  DIMBA_PROFILE_OP(mul_forward);
  DIMBA_PROFILE_OP(copy_rows_forward);
  wrap<&Backend::attention_forward>(
      b, "attention_forward",
      +[](float*, const float*, const float*, const float*, const int*, int, int Tq, int Tk, int, int hd, int64_t,
          int64_t, int64_t) { return profile_detail::shape("%dx%d keys, head dim %d", Tq, Tk, hd); });
  DIMBA_PROFILE_OP(conv1d_causal_depthwise_forward);
  DIMBA_PROFILE_OP(selective_scan_forward);
  DIMBA_PROFILE_OP(patch_embed_forward);
  DIMBA_PROFILE_OP(unpatchify_forward);
  DIMBA_PROFILE_OP(sincos_pos_embed_2d);
  DIMBA_PROFILE_OP(timestep_embedding_forward);
  DIMBA_PROFILE_OP(group_norm_forward);
  DIMBA_PROFILE_OP(conv2d_forward);
  DIMBA_PROFILE_OP(upsample_nearest_forward);
  DIMBA_PROFILE_OP(attention_bias_forward);
  DIMBA_PROFILE_OP(linear_int8_forward);
  DIMBA_PROFILE_OP(mlp_forward);
  DIMBA_PROFILE_OP(conv1d_causal_depthwise_silu_forward);
  wrap<&Backend::self_attention_forward>(
      b, "self_attention_forward",
      +[](float*, float*, float*, const float*, const void*, const float*, const void*, const float*, DType, int B,
          int N, int, int H) { return profile_detail::shape("%d tokens x %d, %d heads", N, B, H); });
  wrap<&Backend::cross_attention_forward>(
      b, "cross_attention_forward",
      +[](float*, float*, float*, float*, const float*, const int*, const void*, const float*, const void*,
          const float*, const void*, const float*, DType, int, int N, int L, int, int H) {
        return profile_detail::shape("%dx%d keys, %d heads", N, L, H);
      });
  wrap<&Backend::dimba_block_forward>(
      b, "dimba_block_forward",
      +[](const Backend&, float*, const DimbaBlockScratch&, const float*, const int*, const float*,
          const DimbaBlock& w, int, int N, int L) {
        return profile_detail::shape("%dx%d text tokens, %d heads", N, L, w.H);
      });
  wrap<&Backend::mamba_block_forward>(
      b, "mamba_block_forward",
      +[](const Backend&, float*, const MambaBlockScratch&, const float*, const MambaBlock& m, int B, int N) {
        return profile_detail::shape("%d tokens x %d, d_inner %d", N, B, m.Di);
      });
  DIMBA_PROFILE_OP(zero);
  DIMBA_PROFILE_OP(linear_backward);
  DIMBA_PROFILE_OP(layernorm_backward);
  DIMBA_PROFILE_OP(rmsnorm_backward);
  DIMBA_PROFILE_OP(modulate_backward);
  DIMBA_PROFILE_OP(gated_residual_backward);
  DIMBA_PROFILE_OP(gelu_tanh_backward);
  DIMBA_PROFILE_OP(silu_backward);
  DIMBA_PROFILE_OP(softplus_backward);
  DIMBA_PROFILE_OP(add_backward);
  DIMBA_PROFILE_OP(add_row_backward);
  DIMBA_PROFILE_OP(attention_backward);
  DIMBA_PROFILE_OP(conv1d_causal_depthwise_backward);
  DIMBA_PROFILE_OP(selective_scan_backward);
  DIMBA_PROFILE_OP(patch_embed_backward);
  DIMBA_PROFILE_OP(unpatchify_backward);
#undef DIMBA_PROFILE_OP
  return b;
}

}  // namespace dimba::bench
