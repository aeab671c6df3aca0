// A sum or max over one workgroup, every invocation getting the result; included by the
// reduction shaders after they define REDUCE_SIZE (their local_size_x). Two bodies:
//  - DIMBA_SUBGROUP (the <op>_subgroup.comp variants, chosen at device setup when the device
//    has subgroup arithmetic in compute): subgroupAdd/subgroupMax inside each subgroup, one
//    partial per subgroup in shared memory, then each subgroup folds those few partials with
//    one more subgroup operation (two barriers in all);
//  - otherwise a shared-memory tree, log2(REDUCE_SIZE) barriers, for any Vulkan 1.0 device.
// Must be called in uniform control flow (every invocation of the group reaches it).
shared float red[REDUCE_SIZE];

float block_reduce(float v, bool is_max) {
#ifdef DIMBA_SUBGROUP
  float s = is_max ? subgroupMax(v) : subgroupAdd(v);
  if (subgroupElect()) red[gl_SubgroupID] = s;
  barrier();
  // Every subgroup folds the partials itself, lane i taking partials i, i + size, ...: the same
  // data in the same lanes, so every subgroup gets the same result.
  float r = is_max ? -1.0 / 0.0 : 0.0;
  for (uint i = gl_SubgroupInvocationID; i < gl_NumSubgroups; i += gl_SubgroupSize)
    r = is_max ? max(r, red[i]) : r + red[i];
  r = is_max ? subgroupMax(r) : subgroupAdd(r);
  barrier();  // red is reused by the next call
  return r;
#else
  uint t = gl_LocalInvocationID.x;
  red[t] = v;
  barrier();
  for (uint s = REDUCE_SIZE / 2u; s > 0u; s >>= 1) {
    if (t < s) red[t] = is_max ? max(red[t], red[t + s]) : red[t] + red[t + s];
    barrier();
  }
  float r = red[0];
  barrier();
  return r;
#endif
}

float block_sum(float v) { return block_reduce(v, false); }
float block_max(float v) { return block_reduce(v, true); }
