// softplus(x) = max(x,0) + log(1 + exp(-|x|)), the overflow-free form; torch passes x through
// above 20, which differs by ~2e-9 (see backend/cpu/activations.cpp). Included by softplus.comp
// and by selective_scan.comp (its delta_softplus).
float softplus(float v) {
  float e = exp(-abs(v));
  // log(1+e) loses e when e is tiny; its series e - e^2/2 is exact enough there.
  float l = e < 1e-4 ? e - 0.5 * e * e : log(1.0 + e);
  return v > 20.0 ? v : max(v, 0.0) + l;
}
