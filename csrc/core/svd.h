// The full SVD of a batch of matrices: A = U diag(S) V^T, S descending and non-negative.
#pragma once

#include <cstdint>

#include "backend.h"
#include "core/bidiagonal_svd.h"
#include "core/block_jacobi.h"
#include "core/jacobi_small_plan.h"
#include "matrix_batch.h"

namespace metalsvd {

// Sweeps after which the Jacobi kernels stop and report kSvdNotConverged (LAPACK xGESVJ's
// NSWEEP); fp32 problems converge in 5-12, so reaching it means something is wrong.
constexpr uint32_t kMaxJacobiSweeps = 30;

// The algorithms svd() can run; `automatic` lets the plan choose (docs/architecture.md).
enum class SvdAlgorithm {
  automatic,
  fused_jacobi,    // one threadgroup per matrix, the whole matrix in threadgroup memory
  blocked_jacobi,  // blocked one-sided Jacobi on the matrix itself
  qr_jacobi,       // Householder QR, then the SVD of R (fused if R fits, else divide and conquer)
  bidiagonal_dc,   // bidiagonalisation and divide and conquer on the matrix itself
};

// Tall matrices are QR-preconditioned where that is faster: the SVD then runs on the n x n
// factor R instead of the m x n matrix. LAPACK's xGESDD does it from about 1.6 rows per column,
// by flops; on a GPU the direct bidiagonalisation's launches are bound by their latency while
// the matrix stays in cache. So: from kQrPreconditionRatio rows per column where the matrix has
// at most kQrPreconditionSmallRows rows or at least kQrPreconditionElements (in float32 about
// the H200's 50 MB L2; measured, float64 crosses over at the same count of elements, not of
// bytes), and from kQrAlwaysRatio rows per column otherwise (qr_preconditions).
constexpr uint32_t kQrPreconditionRatio = 2;
constexpr uint32_t kQrPreconditionSmallRows = 512;
constexpr uint32_t kQrAlwaysRatio = 8;
constexpr uint64_t kQrPreconditionElements = uint64_t{12} << 20;

// Whether the plan QR-preconditions a rows x cols matrix.
bool qr_preconditions(uint32_t rows, uint32_t cols);

// Knobs for measuring alternatives; the defaults are what the plan picks.
struct SvdTuning {
  SvdAlgorithm algorithm = SvdAlgorithm::automatic;
  JacobiSmallTuning jacobi;
  BlockJacobiTuning block;
  BidiagonalSvdTuning bidiagonal;
  // Rows of the Householder QR's tiles (householder_factors, tsqr_shape); 0: the plan's.
  uint32_t qr_panel_rows = 0;
};

struct SvdOutputs {
  MatrixBatch u;  // rows x k (k = min(rows, cols)), or rows x rows with full_matrices
  VectorBatch s;  // k
  MatrixBatch v;  // cols x k, or cols x cols with full_matrices
  Buffer info;    // one int32 per matrix: kernels::SvdStatus
};

// Device workspace (bytes) that svd() needs for this problem; 0 when none.
uint64_t svd_workspace_bytes(Backend& backend, const MatrixBatch& a, bool full_matrices,
                             const SvdTuning& tuning = {});

// Enqueues the SVD of every matrix of `a` on the backend's stream. Throws InvalidArgument for
// inconsistent arguments (or an algorithm that cannot run this shape on this device).
void svd(Backend& backend, const MatrixBatch& a, bool full_matrices, const SvdOutputs& out,
         Buffer workspace, const SvdTuning& tuning = {});

// The singular values alone (S and info as svd() writes them): the same plan, but nothing of
// U or V is formed where the algorithm allows it. The divide and conquer's merges need the
// vectors, so that path finds the values of the bidiagonal by multisection instead
// (core/bidiagonal_values.h), and neither Q nor P is formed or applied; the Jacobi paths
// rotate their vectors anyway and leave them in the workspace.
uint64_t svd_values_workspace_bytes(Backend& backend, const MatrixBatch& a,
                                    const SvdTuning& tuning = {});
void svd_values(Backend& backend, const MatrixBatch& a, const VectorBatch& s, Buffer info,
                Buffer workspace, const SvdTuning& tuning = {});

}  // namespace metalsvd
