// Multi-head softmax(q k^T / sqrt(hd)) v, one workgroup per (query t, head h, sample b),
// walking the keys in chunks of 64 with an online softmax (running max and sum, the
// FlashAttention recurrence), so any key count fits in a fixed amount of shared memory.
// Sample b sees its first k_lens[b] keys; a sample with none gets zeros.
// Backend op attention_forward (hd <= 512: the SDXL VAE's one-head attention has hd = C = 512).
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer O { float o[]; };
layout(std430, binding = 1) readonly buffer Q { float q[]; };
layout(std430, binding = 2) readonly buffer Kb { float k[]; };
layout(std430, binding = 3) readonly buffer V { float v[]; };
layout(std430, binding = 4) readonly buffer L { int k_lens[]; };
layout(push_constant) uniform P {
  uint Tq, Tk, hd, q_stride, kv_stride, out_stride, qo, ko, vo, oo, klo, has_klens;
  float scale;
} p;
shared float qs[512];
shared float ps[64];
#define REDUCE_SIZE 64u
#include "block_reduce.glsl"

void main() {
  uint t = gl_WorkGroupID.x, h = gl_WorkGroupID.y, b = gl_WorkGroupID.z, tid = gl_LocalInvocationID.x;
  uint L = p.Tk;
  if (p.has_klens != 0u) L = uint(clamp(k_lens[p.klo + b], 0, int(p.Tk)));
  uint qbase = p.qo + (b * p.Tq + t) * p.q_stride + h * p.hd;
  for (uint d = tid; d < p.hd; d += 64u) qs[d] = q[qbase + d];
  barrier();
  float acc[8] = float[8](0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
  float m = -1.0 / 0.0, l = 0.0;
  for (uint j0 = 0u; j0 < L; j0 += 64u) {
    uint j = j0 + tid;
    float s = -1.0 / 0.0;
    if (j < L) {
      uint kb = p.ko + (b * p.Tk + j) * p.kv_stride + h * p.hd;
      s = 0.0;
      for (uint d = 0u; d < p.hd; ++d) s = fma(qs[d], k[kb + d], s);
      s *= p.scale;
    }
    float m_new = max(m, block_max(s));
    float e = j < L ? exp(s - m_new) : 0.0;
    ps[tid] = e;
    float alpha = exp(m - m_new);  // 0 on the first chunk (m = -inf)
    l = l * alpha + block_sum(e);
    m = m_new;
    uint n = min(64u, L - j0);
    for (uint c = 0u; c < 8u; ++c) {
      uint d = tid + 64u * c;
      if (d >= p.hd) break;
      float a = acc[c] * alpha;
      for (uint jj = 0u; jj < n; ++jj) a = fma(ps[jj], v[p.vo + (b * p.Tk + j0 + jj) * p.kv_stride + h * p.hd + d], a);
      acc[c] = a;
    }
    barrier();  // ps is rewritten by the next chunk
  }
  uint obase = p.oo + (b * p.Tq + t) * p.out_stride + h * p.hd;
  for (uint c = 0u; c < 8u; ++c) {
    uint d = tid + 64u * c;
    if (d < p.hd) o[obase + d] = l > 0.0 ? acc[c] / l : 0.0;
  }
}
