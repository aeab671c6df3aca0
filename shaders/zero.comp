// o[oo + i] = 0 over n elements: gradient buffers start at zero and the backward ops
// accumulate into them. Backend memory op zero.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) writeonly buffer Out { float o[]; };
layout(push_constant) uniform P { uint n, oo; } p;
void main() {
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * 256u) o[p.oo + i] = 0.0;
}
