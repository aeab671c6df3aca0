// The discrete VP noise schedule Dimba was trained with (linear betas, N = 1000), in the two
// forms the engine needs: the continuous-time view that DPM-Solver and the other samplers
// integrate on (../shared/spec/MODEL.md section 5), and the per-step IDDPM quantities the
// training loss uses (section 7). Both are built from the same float64 betas.
// defines: DiscreteVpSchedule, time_uniform_grid, model_time
#pragma once
#include <vector>

namespace dimba {

class DiscreteVpSchedule {
 public:
  // The reference: betas = linspace(1e-4, 2e-2, 1000). Throws EngineError(InvalidArgument)
  // for n < 2, betas outside (0, 1) or a schedule whose lambda falls below -5.1 at t = 1
  // (the reference would then drop the tail; not implemented because Dimba's never does).
  explicit DiscreteVpSchedule(int n = 1000, double beta_start = 1e-4, double beta_end = 2e-2);

  // The reference schedule, built once.
  static const DiscreteVpSchedule& dimba();

  int n() const { return n_; }

  // --- continuous time t in (0, 1] (MODEL.md section 5) ---
  // log_alpha(t): piecewise-linear in t through the keypoints (t_k, log_alpha_k); below t_0
  // (and above 1) the nearest segment is extended, as DPM-Solver's interpolate_fn does.
  double log_alpha(double t) const;
  double alpha(double t) const;
  double sigma(double t) const;   // sqrt(1 - alpha^2)
  double lambda(double t) const;  // log(alpha / sigma), the half log-SNR
  // The inverse of lambda(t) on the same keypoints (DPM-Solver's inverse_lambda): used by
  // samplers that place their steps by noise level rather than by time.
  double t_from_lambda(double lambda) const;

  // The keypoints, as the reference holds them: float32 values widened to double.
  const std::vector<double>& t_keys() const { return t_keys_; }          // (N) (k+1)/N
  const std::vector<double>& log_alpha_keys() const { return log_alpha_keys_; }  // (N)

  // --- discrete steps k = 0..N-1 (IDDPM, MODEL.md section 7), all float64 ---
  const std::vector<double>& betas() const { return betas_; }        // (N)
  const std::vector<double>& acp() const { return acp_; }            // (N) cumprod(1 - betas)
  const std::vector<double>& acp_prev() const { return acp_prev_; }  // (N) [1, acp[:-1]]
  // q(x_{k-1} | x_k, x_0) = N(c1_k x_0 + c2_k x_k, post_var_k)
  const std::vector<double>& post_var() const { return post_var_; }  // (N), entry 0 is 0
  // log(post_var) with entry 0 replaced by entry 1 (the IDDPM clip: log 0 is -inf)
  const std::vector<double>& post_logvar() const { return post_logvar_; }  // (N)
  const std::vector<double>& c1() const { return c1_; }  // (N) betas sqrt(acp_prev) / (1 - acp)
  const std::vector<double>& c2() const { return c2_; }  // (N) (1 - acp_prev) sqrt(1 - betas) / (1 - acp)

 private:
  int n_;
  std::vector<double> betas_, acp_, acp_prev_, post_var_, post_logvar_, c1_, c2_;
  std::vector<double> t_keys_, log_alpha_keys_;
  std::vector<double> log_alpha_rev_, t_rev_;  // the keypoints reversed, for t_from_lambda
};

// numpy's linspace(1, 1/N, steps + 1, dtype=float32) widened to double: the "time_uniform"
// grid of DPM-Solver. The float32 rounding is the reference's and shows in every model time.
std::vector<double> time_uniform_grid(int steps, int n);

// What the network is given as its timestep at continuous time t: (t - 1/N) * 1000, so that
// t = k/N + 1/N maps to the training step k (fractional in between).
inline double model_time(double t, int n) { return (t - 1.0 / n) * 1000.0; }

}  // namespace dimba
