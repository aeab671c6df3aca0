// The row-wise steps of attention's backward (attention_backward.cpp runs the products on
// sgemm), one workgroup per row of width Tk, keys at and past n = k_lens[b] masked (no k_lens:
// n = Tk; n = 0: the sample has no keys and every row is 0, as the forward's zero output has
// no gradient):
// mode 0: s = softmax(s) in place (the probabilities P, recomputed from the scaled scores);
// mode 1: g = P * (g - sum(g * P)) in place (dS from dP). Backend op attention_backward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer S { float s[]; };
layout(std430, binding = 1) readonly buffer Pr { float pr[]; };
layout(std430, binding = 2) readonly buffer Lens { int lens[]; };
layout(push_constant) uniform P { uint rows, Tk, mode, has_lens, b, so, po, lo; } p;
#define REDUCE_SIZE 256u
#include "block_reduce.glsl"
void main() {
  uint r = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
  if (r >= p.rows) return;  // uniform over the group
  uint t = gl_LocalInvocationID.x, base = p.so + r * p.Tk;
  uint n = p.has_lens != 0u ? uint(clamp(lens[p.lo + p.b], 0, int(p.Tk))) : p.Tk;
  if (p.mode == 0u) {
    float m = -1.0 / 0.0;
    for (uint i = t; i < n; i += 256u) m = max(m, s[base + i]);
    m = block_max(m);
    float sum = 0.0;
    for (uint i = t; i < n; i += 256u) sum += exp(s[base + i] - m);
    float tot = block_sum(sum);  // every invocation reaches the barrier, whatever n
    float inv = n > 0u ? 1.0 / tot : 0.0;
    for (uint i = t; i < p.Tk; i += 256u) s[base + i] = i < n ? exp(s[base + i] - m) * inv : 0.0;
  } else {
    uint pb = p.po + r * p.Tk;
    float dot = 0.0;
    for (uint i = t; i < n; i += 256u) dot += s[base + i] * pr[pb + i];
    dot = block_sum(dot);
    for (uint i = t; i < p.Tk; i += 256u) s[base + i] = i < n ? pr[pb + i] * (s[base + i] - dot) : 0.0;
  }
}
