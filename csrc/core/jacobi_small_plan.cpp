#include "core/jacobi_small_plan.h"

#include <algorithm>

#include "kernels/jacobi_small_params.h"

namespace metalsvd {
namespace {

uint32_t next_power_of_two(uint32_t x) {
  uint32_t p = 1;
  while (p < x) p <<= 1;
  return p;
}

}  // namespace

uint64_t jacobi_small_threadgroup_bytes(ScalarType dtype, uint32_t rows, uint32_t cols,
                                        bool v_in_threadgroup) {
  const kernels::JacobiSmallLayout layout =
      kernels::jacobi_small_layout(rows, cols, v_in_threadgroup);
  return static_cast<uint64_t>(layout.total) * compute_element_size(dtype);
}

std::optional<JacobiSmallPlan> plan_jacobi_small(const DeviceLimits& limits, ScalarType dtype,
                                                 uint32_t batch, uint32_t rows, uint32_t cols,
                                                 uint32_t rows_per_lane) {
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

  const uint32_t max_threads = std::min(kJacobiSmallMaxThreads, limits.max_threads_per_group);
  const uint32_t pairs = (cols + 1) / 2;
  uint32_t lanes = std::min(limits.simd_width, next_power_of_two((rows + rows_per_lane - 1) /
                                                                 std::max(1u, rows_per_lane)));
  while (lanes > 1 && static_cast<uint64_t>(lanes) * pairs > max_threads) lanes >>= 1;
  plan.threads_per_pair = lanes;
  plan.threads = std::clamp(next_power_of_two(lanes * pairs), kJacobiSmallMinThreads, max_threads);
  plan.kernel = std::string(plan.v_in_threadgroup ? "jacobi_small_" : "jacobi_small_vdev_") +
                kernel_type_name(dtype) + "_tg" + std::to_string(plan.threads);
  return plan;
}

}  // namespace metalsvd
