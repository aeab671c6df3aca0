// Classifier-free guidance: one network call on the batch [uncond; cond] (the latent batch
// twice), eps = e_u + s * (e_c - e_u). Turns a batched network into the sampler's DenoiseFn.
// Source: Ho & Salimans, "Classifier-Free Diffusion Guidance" (2022), eq. 6 in the
// e_u + s (e_c - e_u) form the reference uses (../shared/spec/MODEL.md section 5).
// defines: GuidedModelFn, check_guidance, cfg_combine, make_cfg_denoiser
#pragma once
#include <cstddef>
#include <functional>
#include <vector>

#include "sampling/sampler.h"

namespace dimba {

// The network on 2B samples: in2 = [x; x] (2B * in_per_sample values, the unconditional half
// first), out2 receives 2B * out_per_sample values. Only the first in_per_sample values of
// each output sample are eps (Dimba outputs 8 channels: eps, then the learned variance).
// T is float for the real networks, double for analytic ones.
template <class T>
using GuidedModelFn = std::function<void(const std::vector<T>& in2, double t_input, std::vector<T>& out2)>;

// Guidance scales must be finite and within [0, 100]: 1 is the conditional model alone, 0
// the unconditional one; past 100 nothing sensible is left. Throws EngineError(InvalidArgument).
void check_guidance(double scale);

// out[i] = e_u[i] + scale * (e_c[i] - e_u[i]), in double.
template <class T>
void cfg_combine(const T* e_uncond, const T* e_cond, size_t n, double scale, double* out);

// A DenoiseFn for a latent batch of `batch` samples of in_per_sample values each. The model
// is always called on the doubled batch, also at scale 1, so the call sequence (and the
// numbers) are those of the reference at every scale.
template <class T>
DenoiseFn make_cfg_denoiser(GuidedModelFn<T> model, int batch, size_t in_per_sample, size_t out_per_sample,
                            double scale);

}  // namespace dimba
