// The plan for the fused Jacobi kernel: what fits where, and the launch shape it picks.
#include <gtest/gtest.h>

#include "core/jacobi_small_plan.h"

namespace metalsvd {
namespace {

DeviceLimits apple_gpu() { return {32 * 1024, 1024, 32, false, true}; }
DeviceLimits hopper() { return {227 * 1024, 1024, 32, true, true}; }

JacobiSmallTuning pairwise() {
  JacobiSmallTuning tuning;
  tuning.sweeps = JacobiSweeps::pairwise;
  return tuning;
}

TEST(JacobiSmallPlan, Fp32At64x64FitsMetalWithVInDeviceMemory) {
  // A and V together need more than 32 KiB; A alone fits, so V moves to a device workspace.
  const auto plan = plan_jacobi_small(apple_gpu(), ScalarType::f32, 10, 64, 64);
  ASSERT_TRUE(plan.has_value());
  EXPECT_FALSE(plan->v_in_threadgroup);
  EXPECT_LE(plan->threadgroup_memory_bytes, 32u * 1024);
  EXPECT_EQ(plan->workspace_bytes, 10u * 65 * 64 * 4);
  EXPECT_EQ(plan->kernel, "jacobi_small_vdev_f32_tg512");
  EXPECT_EQ(plan->threads_per_pair, 16u);  // 4 rows per lane
  JacobiSmallTuning blocks;
  blocks.sweeps = JacobiSweeps::warp_blocks;
  const auto blocks_plan = plan_jacobi_small(apple_gpu(), ScalarType::f32, 10, 64, 64, blocks);
  EXPECT_EQ(blocks_plan->kernel, "jacobi_blocks_vdev_f32_r2");
  EXPECT_EQ(blocks_plan->threads,
            256u);  // 16 blocks of 4 columns: 8 block pairs, a SIMD group each
}

TEST(JacobiSmallPlan, SmallMatricesKeepVInThreadgroupMemory) {
  const auto plan = plan_jacobi_small(apple_gpu(), ScalarType::f16, 3, 32, 32);
  ASSERT_TRUE(plan.has_value());
  EXPECT_TRUE(plan->v_in_threadgroup);
  EXPECT_EQ(plan->workspace_bytes, 0u);
  EXPECT_EQ(plan->kernel, "jacobi_small_f16_tg128");
}

TEST(JacobiSmallPlan, LargerThreadgroupMemoryTakesLargerMatrices) {
  EXPECT_FALSE(plan_jacobi_small(apple_gpu(), ScalarType::f32, 1, 128, 128).has_value());
  const auto plan = plan_jacobi_small(hopper(), ScalarType::f32, 1, 128, 128);
  ASSERT_TRUE(plan.has_value());
  EXPECT_TRUE(plan->v_in_threadgroup);
  EXPECT_EQ(plan->kernel, "jacobi_blocks_f32_r4");
  EXPECT_EQ(plan->threads, 512u);
  const auto pairwise_plan = plan_jacobi_small(hopper(), ScalarType::f32, 1, 128, 128, pairwise());
  EXPECT_EQ(pairwise_plan->threads, 1024u);
  EXPECT_EQ(pairwise_plan->threads_per_pair, 16u);
}

TEST(JacobiSmallPlan, ThreadsNeverExceedTheDeviceOrRegisterLimit) {
  DeviceLimits limits = hopper();
  limits.max_threads_per_group = 256;
  const auto plan = plan_jacobi_small(limits, ScalarType::f32, 1, 128, 128, pairwise());
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->threads, 256u);
  EXPECT_EQ(plan->threads_per_pair, 4u);  // halved from 32 lanes until 64 pairs fit
  EXPECT_EQ(plan_jacobi_small(limits, ScalarType::f32, 1, 128, 128)->threads, 256u);
  // 8 rows per lane: two register blocks of 64 values, at most 256 threads.
  const auto tall = plan_jacobi_small(hopper(), ScalarType::f32, 1, 256, 160);
  ASSERT_TRUE(tall.has_value());
  EXPECT_EQ(tall->kernel, "jacobi_blocks_vdev_f32_r8");
  EXPECT_EQ(tall->threads, 256u);
}

TEST(JacobiSmallPlan, RowsBeyondTheRegisterBlocksUsePairwiseSweeps) {
  const auto plan = plan_jacobi_small(apple_gpu(), ScalarType::f32, 1, 300, 8);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->sweeps, JacobiSweeps::pairwise);
  EXPECT_EQ(plan->threads_per_pair, 32u);
  EXPECT_EQ(plan->threads, 128u);
  // Up to 64 rows the pairwise sweeps are faster too.
  EXPECT_EQ(plan_jacobi_small(apple_gpu(), ScalarType::f32, 1, 64, 16)->sweeps,
            JacobiSweeps::pairwise);
  EXPECT_EQ(plan_jacobi_small(hopper(), ScalarType::f32, 1, 65, 65)->sweeps,
            JacobiSweeps::warp_blocks);
  // Few columns leave most SIMD groups of the warp-block sweeps idle.
  EXPECT_EQ(plan_jacobi_small(hopper(), ScalarType::f32, 1, 256, 16)->sweeps,
            JacobiSweeps::pairwise);
}

}  // namespace
}  // namespace metalsvd
