#include "core/jacobi_small_plan.h"

#include <algorithm>

#include "kernels/jacobi_small_params.h"
#include "kernels/jacobi_warp_block_sweeps.h"

namespace metalsvd {
namespace {

using kernels::kWarpBlockWidth;

uint32_t next_power_of_two(uint32_t x) {
  uint32_t p = 1;
  while (p < x) p <<= 1;
  return p;
}

// The smallest instantiated rows-per-lane that covers `rows`, or 0 if none does.
uint32_t warp_block_rows_per_lane(uint32_t rows, uint32_t simd_width) {
  for (uint32_t r : kWarpBlockRowsPerLane)
    if (rows <= r * simd_width) return r;
  return 0;
}

void plan_pairwise(const DeviceLimits& limits, ScalarType dtype, uint32_t rows, uint32_t cols,
                   uint32_t rows_per_lane, JacobiSmallPlan& plan) {
  const uint32_t max_threads = std::min(kJacobiSmallMaxThreads, limits.max_threads_per_group);
  const uint32_t pairs = (cols + 1) / 2;
  uint32_t lanes = std::min(limits.simd_width, next_power_of_two((rows + rows_per_lane - 1) /
                                                                 std::max(1u, rows_per_lane)));
  while (lanes > 1 && static_cast<uint64_t>(lanes) * pairs > max_threads) lanes >>= 1;
  plan.sweeps = JacobiSweeps::pairwise;
  plan.threads_per_pair = lanes;
  plan.threads = std::clamp(next_power_of_two(lanes * pairs), kJacobiSmallMinThreads, max_threads);
  plan.kernel = std::string(plan.v_in_threadgroup ? "jacobi_small_" : "jacobi_small_vdev_") +
                kernel_type_name(dtype) + "_tg" + std::to_string(plan.threads);
}

// One SIMD group per pair of column blocks of a round, as many as the registers allow.
void plan_warp_blocks(const DeviceLimits& limits, ScalarType dtype, uint32_t cols,
                      uint32_t rows_per_lane, JacobiSmallPlan& plan) {
  const uint32_t blocks = (cols + kWarpBlockWidth - 1) / kWarpBlockWidth;
  const uint32_t block_pairs = std::max(1u, (blocks + 1) / 2);
  const uint32_t max_threads =
      std::min(warp_block_max_threads(rows_per_lane), limits.max_threads_per_group);
  plan.sweeps = JacobiSweeps::warp_blocks;
  plan.threads_per_pair = limits.simd_width;
  plan.threads = std::min(block_pairs * limits.simd_width,
                          max_threads / limits.simd_width * limits.simd_width);
  plan.kernel = std::string(plan.v_in_threadgroup ? "jacobi_blocks_" : "jacobi_blocks_vdev_") +
                kernel_type_name(dtype) + "_r" + std::to_string(rows_per_lane);
}

}  // namespace

uint32_t warp_block_max_threads(uint32_t rows_per_lane) {
  return kernels::kWarpBlockMaxThreads[rows_per_lane];
}

uint64_t jacobi_small_threadgroup_bytes(ScalarType dtype, uint32_t rows, uint32_t cols,
                                        bool v_in_threadgroup) {
  const kernels::JacobiSmallLayout layout =
      kernels::jacobi_small_layout(rows, cols, v_in_threadgroup);
  return static_cast<uint64_t>(layout.total) * compute_element_size(dtype);
}

std::optional<JacobiSmallPlan> plan_jacobi_small(const DeviceLimits& limits, ScalarType dtype,
                                                 uint32_t batch, uint32_t rows, uint32_t cols,
                                                 const JacobiSmallTuning& tuning) {
  JacobiSmallPlan plan;
  const uint64_t with_v = jacobi_small_threadgroup_bytes(dtype, rows, cols, true);
  const uint64_t without_v = jacobi_small_threadgroup_bytes(dtype, rows, cols, false);
  if (with_v <= limits.threadgroup_memory_bytes) {
    plan.v_in_threadgroup = true;
    plan.threadgroup_memory_bytes = static_cast<uint32_t>(with_v);
  } else if (without_v <= limits.threadgroup_memory_bytes) {
    plan.v_in_threadgroup = false;
    plan.threadgroup_memory_bytes = static_cast<uint32_t>(without_v);
    const kernels::JacobiSmallLayout layout = kernels::jacobi_small_layout(rows, cols, false);
    plan.workspace_bytes =
        static_cast<uint64_t>(batch) * layout.ldv * cols * compute_element_size(dtype);
  } else {
    return std::nullopt;
  }

  const uint32_t block_rows = warp_block_rows_per_lane(rows, limits.simd_width);
  const bool warp_blocks =
      tuning.sweeps ? *tuning.sweeps == JacobiSweeps::warp_blocks
                    : block_rows >= kWarpBlockMinRowsPerLane && cols >= kWarpBlockMinCols;
  if (warp_blocks && block_rows != 0)
    plan_warp_blocks(limits, dtype, cols, block_rows, plan);
  else
    plan_pairwise(limits, dtype, rows, cols,
                  tuning.rows_per_lane ? tuning.rows_per_lane : kDefaultRowsPerLane, plan);
  return plan;
}

}  // namespace metalsvd
