// The T5-v1.1 encoder forward pass (MODEL.md section 4; transformers' T5EncoderModel):
//   x = embed[ids]
//   bias[h, i, j] = rel_bias[bucket(j - i), h]          (layer 0's table, reused by all layers)
//   per layer: x += o(attn(rms(x)))                      (no 1/sqrt(d), padding keys masked)
//              x += wo(gelu_tanh(wi_0(rms(x))) * wi_1(rms(x)))
//   out = rms(x) * final_norm
// The residual stream lives in `out`; each layer's scratch comes from the arena and is
// released before the next, so activations peak at one layer's worth (about 35 MB for XXL at
// 300 tokens). Everything is f32: T5's activations overflow f16, and rounding them to bf16 costs
// more than the golden bound (the CPU's VDPBF16PS path and CUDA's tensor-core mode stay off).
// Off the host (backend_io.h) the residual stream lives in the arena and is downloaded into
// `out` at the end; the embedding rows, the mask and the position bias are made on the host
// (a lookup and integer bucketing) and uploaded.
// defines: T5Encoder::forward
#include <string>
#include <vector>

#include "backend/cpu/gemm_kernels.h"
#include "core/error.h"
#include "core/fpenv.h"
#include "models/backend_io.h"
#include "models/t5_encoder.h"

namespace dimba {
namespace {

// y[M, N] (+)= x[M, K] @ w^T through the GEMM for w's storage, activations in f32.
// On the CPU the path is pinned to one that keeps activations f32 (own AVX-512 FMA kernel, or
// OpenBLAS): the VDPBF16PS path, which the default may pick for bf16 weights, rounds the
// activations to bf16 and takes t5-tiny from 1.6e-2 to 2.3e-2 against the golden (bound 2e-2).
void linear(const Backend& be, float* y, const float* x, const T5Linear& w, int M, int K, int N, bool accumulate) {
  if (w.scale) {
    be.linear_int8_forward(y, x, static_cast<const int8_t*>(w.data), w.scale, nullptr, M, K, N, accumulate);
  } else if (&be == &cpu_backend()) {
    const cpu::GemmPath exact =
        cpu::gemm_path_available(cpu::GemmPath::Avx512) ? cpu::GemmPath::Avx512 : cpu::GemmPath::Blas;
    cpu::linear_forward_path(exact, y, x, w.data, w.dtype, nullptr, M, K, N, accumulate);
  } else {
    be.linear_forward(y, x, w.data, w.dtype, nullptr, M, K, N, accumulate);
  }
}

// The CUDA tensor-core mode rounds activations to bf16 as well, which T5 cannot afford either
// (t5-tiny: 2.27e-2 against the golden): its forward runs with the mode off, and restores it.
class ExactArithmetic {
 public:
  explicit ExactArithmetic(const Backend& be)
      : be_(be), was_(be.set_reduced_precision && be.set_reduced_precision(false)) {}
  ~ExactArithmetic() {
    if (be_.set_reduced_precision) be_.set_reduced_precision(was_);
  }
  ExactArithmetic(const ExactArithmetic&) = delete;
  ExactArithmetic& operator=(const ExactArithmetic&) = delete;

 private:
  const Backend& be_;
  bool was_;
};

}  // namespace

void T5Encoder::forward(float* out, const int32_t* ids, const int32_t* mask, int B, int L) {
  const T5Config& c = cfg_;
  if (B < 1 || L < 1 || L > 4096 || int64_t(B) * L > (int64_t(1) << 20))
    throw EngineError(ErrorCode::InvalidArgument, "T5 forward: need 1 <= B, 1 <= L <= 4096 (got B " +
                                                      std::to_string(B) + ", L " + std::to_string(L) + ")");
  const int64_t BL = int64_t(B) * L;
  for (int64_t i = 0; i < BL; ++i)
    if (ids[i] < 0 || ids[i] >= c.vocab_size)
      throw EngineError(ErrorCode::InvalidArgument, "T5 forward: token id " + std::to_string(ids[i]) + " at " +
                                                        std::to_string(i) + " outside the vocabulary of " +
                                                        std::to_string(c.vocab_size));
  ScopedFlushDenormals ftz;
  forward_calls_++;
  const Backend& be = *be_;
  ExactArithmetic exact(be);
  const int D = c.d_model, I = c.inner(), F = c.d_ff, H = c.num_heads;
  const float eps = float(c.eps);
  Arena& arena = *arena_;
  arena.reset(0);

  // Embedding rows into the residual stream (host memory: `out` itself on CPU).
  float* x = output_buffer(be, arena, out, size_t(BL) * D);  // (B*L, D)
  std::vector<float> staging(be.host_memory ? 0 : size_t(BL) * D);
  float* xe = be.host_memory ? x : staging.data();
  const size_t esz = dtype_size(w_.embed_dtype);
  for (int64_t i = 0; i < BL; ++i)
    convert_to_f32(xe + i * D, static_cast<const uint8_t*>(w_.embed) + size_t(ids[i]) * D * esz, w_.embed_dtype,
                   size_t(D));
  if (!be.host_memory) be.upload(x, xe, size_t(BL) * D * sizeof(float));
  const int32_t* mask_d = stage_in(be, arena, mask, size_t(BL));

  float* bias = arena.alloc_f32(size_t(H) * L * L);  // (H, L, L)
  if (be.host_memory) {
    t5_position_bias(bias, w_.rel_bias, H, L, c.num_buckets, c.max_distance);
  } else {  // the table is on the device: bucket on the host from a downloaded copy
    std::vector<float> table(size_t(c.num_buckets) * H), b(size_t(H) * L * L);
    be.download(table.data(), w_.rel_bias, table.size() * sizeof(float));
    t5_position_bias(b.data(), table.data(), H, L, c.num_buckets, c.max_distance);
    be.upload(bias, b.data(), b.size() * sizeof(float));
  }

  for (int layer = 0; layer < c.num_layers; ++layer) {
    const T5LayerWeights& lw = w_.layers[size_t(layer)];
    const size_t m = arena.mark();
    // Self-attention block.
    float* h = arena.alloc_f32(size_t(BL) * D);  // (B*L, D)
    float* q = arena.alloc_f32(size_t(BL) * I);  // (B*L, H*d_kv), likewise k, v, a
    float* k = arena.alloc_f32(size_t(BL) * I);
    float* v = arena.alloc_f32(size_t(BL) * I);
    float* a = arena.alloc_f32(size_t(BL) * I);
    be.rmsnorm_forward(h, nullptr, x, lw.attn_norm, BL, D, eps);
    linear(be, q, h, lw.q, int(BL), D, I, false);
    linear(be, k, h, lw.k, int(BL), D, I, false);
    linear(be, v, h, lw.v, int(BL), D, I, false);
    be.attention_bias_forward(a, q, k, v, bias, mask_d, B, L, L, H, c.d_kv, I, I, I);
    linear(be, x, a, lw.o, int(BL), I, D, true);  // x += o(a)
    arena.reset(m);

    // Gated-GELU feed-forward block.
    h = arena.alloc_f32(size_t(BL) * D);          // (B*L, D)
    float* g = arena.alloc_f32(size_t(BL) * F);   // (B*L, F) gelu(wi_0 h), then the gated product
    float* u = arena.alloc_f32(size_t(BL) * F);   // (B*L, F) wi_1 h
    be.rmsnorm_forward(h, nullptr, x, lw.ff_norm, BL, D, eps);
    linear(be, g, h, lw.wi_0, int(BL), D, F, false);
    linear(be, u, h, lw.wi_1, int(BL), D, F, false);
    be.gelu_tanh_forward(g, g, BL * F);
    be.mul_forward(g, g, u, BL * F);                   // the gate
    linear(be, x, g, lw.wo, int(BL), F, D, true);      // x += wo(g)
    arena.reset(m);
  }
  be.rmsnorm_forward(x, nullptr, x, w_.final_norm, BL, D, eps);
  stage_out(be, out, x, size_t(BL) * D);
}

}  // namespace dimba
