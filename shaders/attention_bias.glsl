// T5 attention: softmax(q k^T + bias[h] + key mask) v with no 1/sqrt(hd) scaling, one
// workgroup per (query t, head h, sample b), the online softmax of attention.comp over chunks
// of 64 keys. Masked keys get weight 0; a sample whose keys are all masked attends uniformly
// to all Tk keys (what the reference's additive finfo.min mask yields; backend/cpu/
// attention_bias.cpp). Backend op attention_bias_forward (hd <= 256).
layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer O { float o[]; };
layout(std430, binding = 1) readonly buffer Q { float q[]; };
layout(std430, binding = 2) readonly buffer Kb { float k[]; };
layout(std430, binding = 3) readonly buffer V { float v[]; };
layout(std430, binding = 4) readonly buffer Bi { float bias[]; };
layout(std430, binding = 5) readonly buffer M { int key_mask[]; };
layout(push_constant) uniform P {
  uint Tq, Tk, hd, q_stride, kv_stride, out_stride, qo, ko, vo, oo, bo, mo, has_bias, has_mask;
} p;
shared float qs[256];
shared float ps[64];
#define REDUCE_SIZE 64u
#include "block_reduce.glsl"

void main() {
  uint t = gl_WorkGroupID.x, h = gl_WorkGroupID.y, b = gl_WorkGroupID.z, tid = gl_LocalInvocationID.x;
  // Does the sample keep any key? If not, every key gets the same weight.
  bool uniform_weights = false;
  if (p.has_mask != 0u) {
    float any_kept = 0.0;
    for (uint j = tid; j < p.Tk; j += 64u) any_kept = max(any_kept, key_mask[p.mo + b * p.Tk + j] != 0 ? 1.0 : 0.0);
    uniform_weights = block_max(any_kept) == 0.0;
  }
  uint qbase = p.qo + (b * p.Tq + t) * p.q_stride + h * p.hd;
  for (uint d = tid; d < p.hd; d += 64u) qs[d] = q[qbase + d];
  barrier();
  float acc[4] = float[4](0.0, 0.0, 0.0, 0.0);
  float m = -1.0 / 0.0, l = 0.0;
  for (uint j0 = 0u; j0 < p.Tk; j0 += 64u) {
    uint j = j0 + tid;
    bool valid = j < p.Tk && (uniform_weights || p.has_mask == 0u || key_mask[p.mo + b * p.Tk + j] != 0);
    float s = -1.0 / 0.0;
    if (valid) {
      s = 0.0;
      if (!uniform_weights) {
        uint kb = p.ko + (b * p.Tk + j) * p.kv_stride + h * p.hd;
        for (uint d = 0u; d < p.hd; ++d) s = fma(qs[d], k[kb + d], s);
        if (p.has_bias != 0u) s += bias[p.bo + (h * p.Tq + t) * p.Tk + j];
      }
    }
    float cm = block_max(s);
    float m_new = max(m, cm);
    // A chunk with every key masked leaves the running state as it is.
    float e = (valid && m_new > -1.0 / 0.0) ? exp(s - m_new) : 0.0;
    ps[tid] = e;
    float alpha = m_new > -1.0 / 0.0 ? exp(m - m_new) : 1.0;
    l = l * alpha + block_sum(e);
    m = m_new;
    uint n = min(64u, p.Tk - j0);
    for (uint c = 0u; c < 4u; ++c) {
      uint d = tid + 64u * c;
      if (d >= p.hd) break;
      float a = acc[c] * alpha;
      for (uint jj = 0u; jj < n; ++jj) a = fma(ps[jj], v[p.vo + (b * p.Tk + j0 + jj) * p.kv_stride + h * p.hd + d], a);
      acc[c] = a;
    }
    barrier();
  }
  uint obase = p.oo + (b * p.Tq + t) * p.out_stride + h * p.hd;
  for (uint c = 0u; c < 4u; ++c) {
    uint d = tid + 64u * c;
    if (d < p.hd) o[obase + d] = l > 0.0 ? acc[c] / l : 0.0;
  }
}
