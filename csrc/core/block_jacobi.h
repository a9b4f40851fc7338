// The blocked one-sided Jacobi SVD (kernels/block_jacobi.h) on the host side: the plan of
// blocks, groups and workspaces, and the enqueueing of its sweeps.
#pragma once

#include <cstdint>
#include <string>

#include "backend.h"
#include "core/workspace_layout.h"
#include "matrix_batch.h"

namespace metalsvd {

// Outer sweeps enqueued, as LAPACK xGESVJ's NSWEEP (and kMaxJacobiSweeps). Measured on an H200
// (bench/results/2026-11-29_nvidia-h200_tune_blocked.txt): 14-16 sweeps at 1024^2 and 2048^2,
// more than 16 at 4096^2, the count growing with n. A converged matrix costs only empty
// launches for the rest.
constexpr uint32_t kMaxBlockJacobiSweeps = 30;

struct BlockJacobiTuning {
  uint32_t block = 0;          // columns per block (even); 0: the plan's choice
  uint32_t inner_sweeps = 0;   // most sweeps of each pair's eigensolver per round; 0: the plan's
  uint32_t max_sweeps = 0;     // outer sweeps enqueued; 0: kMaxBlockJacobiSweeps
  uint32_t eigen_threads = 0;  // threads of the pair eigensolver (a multiple of 32); 0: the plan's
  uint32_t row_tile = 0;       // rows of G or V per rotation group (a multiple of 4); 0: the plan's
  // Leading outer sweeps whose Gram matrices and rotations run as backend GEMMs (the rest as
  // the portable kernels, which skip converged matrices); negative: the plan's.
  int32_t gemm_sweeps = -1;
  // Refine the singular values in float64 (kernels/block_jacobi_refine.h): 1 on, 0 off,
  // negative: the plan's (on for float32 where the backend has float64).
  int32_t refine_sigma = -1;
  // Sweeps after convergence with the tight pair test and compensated Gram entries
  // (kernels/block_jacobi.h, polish sweeps); negative: the plan's.
  int32_t polish_sweeps = -1;
};

struct BlockJacobiPlan {
  uint32_t block = 0;
  uint32_t pairs = 0;
  uint32_t padded_cols = 0;
  uint32_t gram_splits = 0;
  uint32_t inner_sweeps = 0;
  uint32_t max_sweeps = 0;
  uint32_t row_tile = 0;
  uint32_t gemm_sweeps = 0;  // the first gemm_sweeps of the max_sweeps are GEMM sweeps
  bool refine_sigma = false;
  uint32_t polish_sweeps = 0;
  uint32_t gram_threads = 0, eigen_threads = 0, rotate_threads = 0, finalize_threads = 0;
  uint32_t gram_bytes = 0, eigen_bytes = 0, rotate_bytes = 0, finalize_bytes = 0;
  uint32_t state_stride = 0;
};

// A plan for batch x rows x cols (rows >= cols) problems of compute type `dtype`; throws
// NotImplemented when even the smallest blocks exceed the device's threadgroup memory.
BlockJacobiPlan plan_block_jacobi(const DeviceLimits& limits, ScalarType dtype, uint32_t batch,
                                  uint32_t rows, uint32_t cols,
                                  const BlockJacobiTuning& tuning = {});

// The workspaces of one blocked SVD, taken from a layout.
struct BlockJacobiWorkspace {
  Buffer g;         // two copies of G
  Buffer v;         // two copies of V
  Buffer pairs;     // Gram matrices, then rotations (at rotation_offset elements)
  Buffer finalize;  // V, S and scratch of each matrix, finalize_batch_stride elements apart
  Buffer loaded;    // with refine_sigma: G as loaded (rows x cols, packed)
  int64_t rotation_offset = 0;
  int64_t finalize_batch_stride = 0;
  uint32_t v_offset = 0, s_offset = 0, scratch_offset = 0, refine_offset = 0;
  uint32_t refine_row_blocks = 0;
};

BlockJacobiWorkspace block_jacobi_workspace(WorkspaceLayout& layout, const BlockJacobiPlan& plan,
                                            ScalarType dtype, uint32_t batch, uint32_t rows,
                                            uint32_t cols);

// The factors the finalize kernel leaves, as column-major views (compute type).
struct BlockJacobiResult {
  MatrixBatch v;  // cols x cols
  MatrixBatch s;  // 1 x cols
};

// Where the caller loads G (scaled, compute type): rows x padded_cols, first copy; the columns
// beyond cols must be zero (enqueue_load's zero fill does it).
MatrixBatch block_jacobi_input(const BlockJacobiPlan& plan, const BlockJacobiWorkspace& ws,
                               ScalarType dtype, uint32_t batch, uint32_t rows);

// Enqueues the blocked SVD of the loaded G (its state set by enqueue_scale_exponent with the
// plan's state_stride): U into `u` (column-major compute type, u.rows >= rows, rows beyond
// zero), S and V in the workspace, and info. Returns where S and V are.
BlockJacobiResult enqueue_block_jacobi(Backend& backend, const BlockJacobiPlan& plan,
                                       const BlockJacobiWorkspace& ws, ScalarType dtype,
                                       uint32_t batch, uint32_t rows, uint32_t cols,
                                       const MatrixBatch& u, Buffer state, Buffer info);

}  // namespace metalsvd
