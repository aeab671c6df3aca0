// GELU, tanh form: 0.5x(1+tanh(a)) written as x*sigmoid(2a) (the CPU's identity: no
// cancellation for negative a, no tanh overflow). Backend op gelu_tanh_forward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Out { float o[]; };
layout(std430, binding = 1) readonly buffer In { float x[]; };
layout(push_constant) uniform P { uint n, oo, io; } p;
void main() {
  const float k2 = 2.0 * 0.7978845608028654;  // 2 * sqrt(2/pi)
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * 256u) {
    float v = x[p.io + i];
    o[p.oo + i] = v / (1.0 + exp(-k2 * (v + 0.044715 * v * v * v)));
  }
}
