// The plan for the blocked Jacobi kernels: the block width it picks, and that every kernel it
// sizes fits the device.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/block_jacobi.h"
#include "kernels/block_jacobi.h"

namespace metalsvd {
namespace {

DeviceLimits apple_gpu() { return {32 * 1024, 1024, 32, false, true}; }
DeviceLimits hopper() { return {227 * 1024, 1024, 32, true, true}; }

void expect_fits(const BlockJacobiPlan& p, const DeviceLimits& limits) {
  EXPECT_LE(std::max({p.gram_bytes, p.eigen_bytes, p.rotate_bytes, p.finalize_bytes}),
            limits.threadgroup_memory_bytes);
  EXPECT_LE(std::max({p.gram_threads, p.eigen_threads, p.rotate_threads, p.finalize_threads}),
            limits.max_threads_per_group);
  // The Gram kernel needs a thread for every 4 x 4 tile of a pair's Gram matrix.
  EXPECT_GE(p.gram_threads, kernels::gram_tiles(2 * p.block));
}

TEST(BlockJacobiPlan, WideBlocksFrom4096Columns) {
  const BlockJacobiPlan narrow = plan_block_jacobi(hopper(), ScalarType::f32, 1, 4096, 4095);
  EXPECT_EQ(narrow.block, 16u);
  expect_fits(narrow, hopper());
  const BlockJacobiPlan wide = plan_block_jacobi(hopper(), ScalarType::f32, 1, 4096, 4096);
  EXPECT_EQ(wide.block, 32u);
  EXPECT_EQ(wide.pairs, 64u);
  expect_fits(wide, hopper());
}

TEST(BlockJacobiPlan, WideBlocksFallBackWhereTheyDoNotFit) {
  // A 64-wide pair eigensolver needs more than Metal's 32 KiB of threadgroup memory.
  const BlockJacobiPlan p = plan_block_jacobi(apple_gpu(), ScalarType::f32, 1, 8192, 8192);
  EXPECT_EQ(p.block, 16u);
  expect_fits(p, apple_gpu());
}

TEST(BlockJacobiPlan, GramThreadsGrowWithTheBlock) {
  BlockJacobiTuning tuning;
  tuning.block = 64;  // 528 tiles: more than the default 256 threads
  const BlockJacobiPlan p = plan_block_jacobi(hopper(), ScalarType::f32, 1, 1024, 1024, tuning);
  EXPECT_EQ(p.block, 64u);
  EXPECT_EQ(p.gram_threads, 544u);
  expect_fits(p, hopper());
}

}  // namespace
}  // namespace metalsvd
