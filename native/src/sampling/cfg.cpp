// Classifier-free guidance around a batched network; instantiated for float and double models.
// defines: check_guidance, cfg_combine, make_cfg_denoiser
#include "sampling/cfg.h"

#include <cmath>
#include <string>

#include "core/error.h"

namespace dimba {

void check_guidance(double scale) {
  if (!std::isfinite(scale) || scale < 0.0 || scale > 100.0)
    throw EngineError(ErrorCode::InvalidArgument,
                      "guidance scale must be a finite number in [0, 100], got " + std::to_string(scale));
}

template <class T>
void cfg_combine(const T* e_uncond, const T* e_cond, size_t n, double scale, double* out) {
  for (size_t i = 0; i < n; ++i) {
    const double u = double(e_uncond[i]);
    out[i] = u + scale * (double(e_cond[i]) - u);
  }
}

template <class T>
DenoiseFn make_cfg_denoiser(GuidedModelFn<T> model, int batch, size_t in_per_sample, size_t out_per_sample,
                            double scale) {
  check_guidance(scale);
  if (!model) throw EngineError(ErrorCode::InvalidArgument, "guidance needs a model");
  if (batch < 1 || in_per_sample == 0 || out_per_sample < in_per_sample)
    throw EngineError(ErrorCode::InvalidArgument, "guidance: batch must be >= 1 and each output sample must hold eps");
  const size_t b = size_t(batch);
  return [model = std::move(model), b, in_per_sample, out_per_sample, scale](
             const std::vector<double>& x, double t_input, std::vector<double>& eps) {
    const size_t n = b * in_per_sample;
    if (x.size() != n)
      throw EngineError(ErrorCode::InvalidArgument, "latent holds " + std::to_string(x.size()) + " values, expected " +
                                                        std::to_string(n));
    std::vector<T> in2(2 * n), out2;
    for (size_t i = 0; i < n; ++i) in2[i] = in2[n + i] = T(x[i]);
    model(in2, t_input, out2);
    if (out2.size() != 2 * b * out_per_sample)
      throw EngineError(ErrorCode::Internal, "model returned " + std::to_string(out2.size()) + " values, expected " +
                                                 std::to_string(2 * b * out_per_sample));
    eps.resize(n);
    for (size_t k = 0; k < b; ++k)
      cfg_combine(&out2[k * out_per_sample], &out2[(b + k) * out_per_sample], in_per_sample, scale,
                  &eps[k * in_per_sample]);
  };
}

template void cfg_combine<float>(const float*, const float*, size_t, double, double*);
template void cfg_combine<double>(const double*, const double*, size_t, double, double*);
template DenoiseFn make_cfg_denoiser<float>(GuidedModelFn<float>, int, size_t, size_t, double);
template DenoiseFn make_cfg_denoiser<double>(GuidedModelFn<double>, int, size_t, size_t, double);

}  // namespace dimba
