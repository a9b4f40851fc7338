// The full SVD of a batch of matrices: A = U diag(S) V^T, S descending and non-negative.
#pragma once

#include <cstdint>

#include "backend.h"
#include "core/jacobi_small_plan.h"
#include "matrix_batch.h"

namespace metalsvd {

// Sweeps after which the Jacobi kernels stop and report kSvdNotConverged (LAPACK xGESVJ's
// NSWEEP); fp32 problems converge in 5-12, so reaching it means something is wrong.
constexpr uint32_t kMaxJacobiSweeps = 30;

// Knobs for measuring alternatives; the defaults are what the plan picks.
struct SvdTuning {
  JacobiSmallTuning jacobi;
};

struct SvdOutputs {
  MatrixBatch u;  // rows x k (k = min(rows, cols)), or rows x rows with full_matrices
  VectorBatch s;  // k
  MatrixBatch v;  // cols x k, or cols x cols with full_matrices
  Buffer info;    // one int32 per matrix: kernels::SvdStatus
};

// Device workspace (bytes) that svd() needs for this problem; 0 when none.
uint64_t svd_workspace_bytes(const Backend& backend, const MatrixBatch& a, bool full_matrices,
                             const SvdTuning& tuning = {});

// Enqueues the SVD of every matrix of `a` on the backend's stream. Throws InvalidArgument for
// inconsistent arguments and NotImplemented for shapes this build cannot factor yet.
void svd(Backend& backend, const MatrixBatch& a, bool full_matrices, const SvdOutputs& out,
         Buffer workspace, const SvdTuning& tuning = {});

}  // namespace metalsvd
