// How the fused one-sided Jacobi kernel runs one problem shape on one device, if it can.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "backend.h"
#include "core/scalar_type.h"

namespace metalsvd {

struct JacobiSmallPlan {
  std::string kernel;  // e.g. "jacobi_small_f32_tg256" or "jacobi_small_vdev_f32_tg256"
  uint32_t threads = 0;
  uint32_t threads_per_pair = 0;
  uint32_t threadgroup_memory_bytes = 0;
  bool v_in_threadgroup = true;
  uint64_t workspace_bytes = 0;  // device workspace for V when it lives outside threadgroup memory
};

// Threadgroup sizes the backends instantiate the kernel for.
constexpr uint32_t kJacobiSmallMinThreads = 64;
constexpr uint32_t kJacobiSmallMaxThreads = 1024;

// Threadgroup memory the fused kernel needs for a rows x cols (rows >= cols) problem.
uint64_t jacobi_small_threadgroup_bytes(ScalarType dtype, uint32_t rows, uint32_t cols,
                                        bool v_in_threadgroup);

// Rows of a column pair each lane handles by default: enough work per lane to amortise the
// shuffle reduction, few enough that a sweep round stays short (measured on an H200:
// bench/tune_jacobi.py).
constexpr uint32_t kDefaultRowsPerLane = 8;

// A plan for `batch` tall (rows >= cols) matrices, or nothing when A alone does not fit in the
// device's threadgroup memory. V goes to threadgroup memory when it fits beside A.
std::optional<JacobiSmallPlan> plan_jacobi_small(const DeviceLimits& limits, ScalarType dtype,
                                                 uint32_t batch, uint32_t rows, uint32_t cols,
                                                 uint32_t rows_per_lane = kDefaultRowsPerLane);

}  // namespace metalsvd
