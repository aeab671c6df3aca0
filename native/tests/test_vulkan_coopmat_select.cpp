// The cooperative-matrix choice (backend/vulkan/coopmat_select.h) over fake device property
// sets: the choice is plain data in, plain data out, so it is checked here on any machine,
// whatever its driver reports (lavapipe has no VK_KHR_cooperative_matrix).
#include <vector>

#include "backend/vulkan/coopmat_select.h"
#include "harness.h"

using namespace dimba;
using namespace dimba::vk;

namespace {

const CoopMatType F16 = CoopMatType::F16, F32 = CoopMatType::F32, Other = CoopMatType::Other;

void test_needs_extension_and_shader() {
  const std::vector<CoopMatShape> good = {kCoopMatShape};
  CoopMatChoice c = choose_coopmat(false, true, good);
  CHECK(!c.use);
  CHECK(c.reason.find("lacks VK_KHR_cooperative_matrix") != std::string::npos);
  c = choose_coopmat(true, false, good);
  CHECK(!c.use);
  CHECK(c.reason.find("no coopmat shader") != std::string::npos);
  c = choose_coopmat(true, true, good);
  CHECK(c.use);
  CHECK(c.reason.find("cooperative matrix 16x16x16") != std::string::npos);
}

void test_needs_the_shaders_configuration() {
  // An NVIDIA-like list: the wanted entry among others, in any position.
  const std::vector<CoopMatShape> nvidia = {
      {16, 16, 16, F16, F16, F16, F16, true}, {16, 8, 16, F16, F16, F32, F32, true},
      {16, 16, 16, F16, F16, F32, F32, true}, {16, 8, 32, Other, Other, Other, Other, true}};
  CHECK(choose_coopmat(true, true, nvidia).use);
  // Each field wrong on its own: no match, the tiled path, the count reported.
  const CoopMatShape k = kCoopMatShape;
  const std::vector<CoopMatShape> near_misses = {
      {8, 16, 16, k.a, k.b, k.c, k.result, true},   {16, 8, 16, k.a, k.b, k.c, k.result, true},
      {16, 16, 32, k.a, k.b, k.c, k.result, true},  {16, 16, 16, F32, k.b, k.c, k.result, true},
      {16, 16, 16, k.a, Other, k.c, k.result, true}, {16, 16, 16, k.a, k.b, F16, k.result, true},
      {16, 16, 16, k.a, k.b, k.c, F16, true},        {16, 16, 16, k.a, k.b, k.c, k.result, false}};
  for (const CoopMatShape& s : near_misses) CHECK(!choose_coopmat(true, true, {s}).use);
  const CoopMatChoice c = choose_coopmat(true, true, near_misses);
  CHECK(!c.use);
  CHECK(c.reason.find("among 8 reported") != std::string::npos);
  CHECK(!choose_coopmat(true, true, {}).use);
}

}  // namespace

int main() {
  RUN(test_needs_extension_and_shader);
  RUN(test_needs_the_shaders_configuration);
  return harness::summary();
}
