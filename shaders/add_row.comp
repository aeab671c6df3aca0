// out[r,:] = a[r,:] + row[:] over rows x C. Backend op add_row_forward.
#version 450
layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Out { float o[]; };
layout(std430, binding = 1) readonly buffer A { float a[]; };
layout(std430, binding = 2) readonly buffer R { float row[]; };
layout(push_constant) uniform P { uint n, C, oo, ao, ro; } p;
void main() {
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += gl_NumWorkGroups.x * 256u) o[p.oo + i] = a[p.ao + i] + row[p.ro + i % p.C];
}
