// dinp += dout * f'(inp) for the three activations (gradients accumulate), chosen by `kind`:
//   0 gelu_tanh: 0.5 (1 + th) + 0.5 x (1 - th^2) k (1 + 3 * 0.044715 x^2), th = tanh(k (x + 0.044715 x^3))
//   1 silu:      s (1 + x (1 - s)), s = sigmoid(x)
//   2 softplus:  sigmoid(x), and 1 above the forward's pass-through threshold 20
// tanh is written through exp of a non-positive argument (no overflow for large |a|).
// Backend ops gelu_tanh_backward, silu_backward, softplus_backward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer DIn { float dinp[]; };
layout(std430, binding = 1) readonly buffer DOut { float dout[]; };
layout(std430, binding = 2) readonly buffer In { float x[]; };
layout(push_constant) uniform P { uint n, kind, dio, doo, io; } p;
float sigmoid(float v) { return 1.0 / (1.0 + exp(-v)); }
void main() {
  const float k = 0.7978845608028654;  // sqrt(2/pi)
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * 256u) {
    float v = x[p.io + i], d;
    if (p.kind == 0u) {
      float a = k * (v + 0.044715 * v * v * v);
      float e = exp(-2.0 * abs(a));
      float th = sign(a) * (1.0 - e) / (1.0 + e);
      d = 0.5 * (1.0 + th) + 0.5 * v * (1.0 - th * th) * k * (1.0 + 3.0 * 0.044715 * v * v);
    } else if (p.kind == 1u) {
      float s = sigmoid(v);
      d = s * (1.0 + v * (1.0 - s));
    } else {
      d = v > 20.0 ? 1.0 : sigmoid(v);
    }
    dinp[p.dio + i] += dout[p.doo + i] * d;
  }
}
