// How the fused one-sided Jacobi kernel runs one problem shape on one device, if it can.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "backend.h"
#include "scalar_type.h"

namespace metalsvd {

// The two sweep strategies of the fused kernel (csrc/kernels/jacobi_small.h).
enum class JacobiSweeps {
  pairwise,     // each column pair by a few lanes through threadgroup memory
  warp_blocks,  // blocks of columns in the registers of one SIMD group (rows <= 256)
};

struct JacobiSmallPlan {
  std::string kernel;  // e.g. "jacobi_small_f32_tg256" or "jacobi_blocks_vdev_f32_r4"
  JacobiSweeps sweeps = JacobiSweeps::pairwise;
  uint32_t threads = 0;
  uint32_t threads_per_pair = 0;  // pairwise: lanes per column pair
  uint32_t threadgroup_memory_bytes = 0;
  bool v_in_threadgroup = true;
  uint64_t workspace_bytes = 0;  // device workspace for V when it lives outside threadgroup memory
};

// Threadgroup sizes the backends instantiate the pairwise kernels for.
constexpr uint32_t kJacobiSmallMinThreads = 64;
constexpr uint32_t kJacobiSmallMaxThreads = 1024;

// Rows per lane the warp-block kernels are instantiated for (rows <= 32 * that), and the most
// threads each may run with: the register blocks grow with the rows per lane.
constexpr uint32_t kWarpBlockRowsPerLane[] = {1, 2, 4, 8};
uint32_t warp_block_max_threads(uint32_t rows_per_lane);

// The plan's defaults, measured on an H200 with bench/tune_jacobi.py
// (bench/results/2026-11-29_nvidia-h200_tune_jacobi.txt):
// - rows of a column pair each lane handles in the pairwise kernels: 4 is 3% faster than 8 at
//   64x64 and equal at 32x32 and 128x128; 2 and 16 are slower;
// - warp blocks from 4 rows per lane (rows > 64) and more than 64 columns: 6% faster than
//   pairwise at 128x128, but 6% slower at 64x64 and 57% slower at 32x32, where the serial SIMD
//   reductions dominate; with few columns (64 x 256x16) they leave most SIMD groups idle and
//   took 0.45 ms against 0.27 ms pairwise.
constexpr uint32_t kDefaultRowsPerLane = 4;
constexpr uint32_t kWarpBlockMinRowsPerLane = 4;
constexpr uint32_t kWarpBlockMinCols = 65;

// Knobs for measuring alternatives; zero values mean the plan's own choice.
struct JacobiSmallTuning {
  uint32_t rows_per_lane = 0;          // pairwise: rows of a pair per lane
  std::optional<JacobiSweeps> sweeps;  // force a sweep strategy
};

// Threadgroup memory the fused kernel needs for a rows x cols (rows >= cols) problem.
uint64_t jacobi_small_threadgroup_bytes(ScalarType dtype, uint32_t rows, uint32_t cols,
                                        bool v_in_threadgroup);

// A plan for `batch` tall (rows >= cols) matrices, or nothing when A alone does not fit in the
// device's threadgroup memory. V goes to threadgroup memory when it fits beside A.
std::optional<JacobiSmallPlan> plan_jacobi_small(const DeviceLimits& limits, ScalarType dtype,
                                                 uint32_t batch, uint32_t rows, uint32_t cols,
                                                 const JacobiSmallTuning& tuning = {});

}  // namespace metalsvd
