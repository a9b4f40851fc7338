// The SVD by Golub-Kahan bidiagonalisation and divide and conquer, LAPACK's xGESDD on the
// device: A = Q B P^T (core/bidiagonal_reduction.h), B = U_B diag(sigma) W_B^T
// (core/bidiagonal_dc.h), then U = Q [U_B; 0] and V = P W_B by the blocked reflectors. GEMM-rich
// and a fixed amount of work: no sweeps, no convergence test beyond the root finder's.
#pragma once

#include <cstdint>

#include "backend.h"
#include "core/band_bidiagonal.h"
#include "core/band_reduction.h"
#include "core/bidiagonal_dc.h"
#include "core/bidiagonal_reduction.h"
#include "core/workspace_layout.h"
#include "matrix_batch.h"

namespace metalsvd {

struct BidiagonalSvdTuning {
  // Rows from which a divide-and-conquer node forms its vectors with the backend's GEMM;
  // 0: the plan's (kDcGemmRows).
  uint32_t gemm_rows = 0;
  // Threads of the bidiagonalisation's column and row kernels (256, 512 or 1024, at most what
  // each kernel allows); 0: the plan's, by the size of their groups (bidiagonal_threads).
  uint32_t reduction_threads = 0;
  // Groups the bidiagonalisation's launches should have at least (BidiagonalLaunchShape);
  // 0: the plan's (kBidiagonalGroups).
  uint32_t reduction_groups = 0;
  // The size of the bidiagonalisation's one-group tail (BidiagonalLaunchShape::tail); 0: none,
  // -1: the plan's (kBidiagonalTail).
  int32_t reduction_tail = -1;
  // The bidiagonalisation in one launch with the matrix in registers
  // (BidiagonalLaunchShape::resident): 0 never, 1 wherever it can run, -1 the plan's.
  int32_t reduction_resident = -1;
  // 1 through the two-stage bidiagonalisation (band, then bulge chasing), 0 through the
  // one-stage one, -1 the plan's (two_stage_reduction).
  int32_t two_stage = -1;
  // Rows of the two-stage reduction's QR tiles (tsqr_shape's wanted rows); 0: the plan's.
  uint32_t tile_rows = 0;
};

struct BidiagonalSvdPlan {
  uint32_t gemm_rows = kDcGemmRows;
  BidiagonalLaunchShape reduction;
  int32_t two_stage = -1;
  uint32_t tile_rows = 0;
};

// Columns from which the plan takes the singular values alone of float32 matrices through the
// two-stage reduction. On an H100 (bench/results/2026-12-06_nvidia-h100_bulge.txt) the values
// of an 8192^2 matrix took 417 ms with two stages against 717 ms with one, those of a 4096^2
// one 173 against 118 (with the Cholesky QR2 panels, on an H200, 300 and 124 ms two-stage;
// bench/results/2026-12-06_cholesky_qr.txt): the one-stage reduction's GEMVs grow as n^3 bytes,
// the bulge chasing's 2n launches as n. Between the two sizes nothing was measured, so the rule
// starts at the one where two stages won.
constexpr uint32_t kTwoStageValuesCols = 8192;

// Columns from which the plan takes U, S and V of float32 matrices through the two-stage
// reduction. On an H100 (bench/results/2026-12-07_nvidia-h100_back_transform_stages.txt, at
// 862171a) U, S, V took 616 ms with two stages against 878 with one at 8192^2, 365 against 420
// at 6144^2, 269 against 258 at 5120^2 and 175 against 136 at 4096^2: the back-transformation's
// n^3 multiply-adds come on top of the values' work, which two stages make cheaper only from
// about 6144 columns. The rule starts at the smallest size where two stages won.
constexpr uint32_t kTwoStageVectorsCols = 6144;

// Whether the plan takes a matrix of `cols` columns and compute type `dtype` through the
// two-stage reduction: where two_stage says so, else (-1) for float32 matrices from
// kTwoStageValuesCols columns (the values alone) or kTwoStageVectorsCols (with `vectors`).
// float64 was not timed.
bool two_stage_reduction(const BidiagonalSvdPlan& plan, bool vectors, ScalarType dtype,
                         uint32_t cols);

// Threadgroup memory the path's kernels need at most, for compute type `dtype`.
uint32_t bidiagonal_svd_threadgroup_bytes(ScalarType dtype);

// A plan for compute type `dtype`; throws NotImplemented where the device's threadgroup memory
// is too small for the kernels.
BidiagonalSvdPlan plan_bidiagonal_svd(const DeviceLimits& limits, ScalarType dtype,
                                      const BidiagonalSvdTuning& tuning = {});

struct BidiagonalSvdWorkspace {
  bool two_stage = false;
  BidiagonalReduction reduction;  // one stage
  BandReduction band;             // two stages: the first,
  BandBidiagonal bidiagonal;      // and the second
  DcWorkspace dc;
  MatrixBatch u;  // rows x cols
  MatrixBatch v;  // cols x cols
};

BidiagonalSvdWorkspace bidiagonal_svd_workspace(WorkspaceLayout& layout, const DeviceLimits& limits,
                                                const BidiagonalSvdPlan& plan, ScalarType dtype,
                                                uint32_t batch, uint32_t rows, uint32_t cols);

// Where the caller loads A (column-major, compute type, rows >= cols).
MatrixBatch bidiagonal_svd_input(const BidiagonalSvdWorkspace& ws);

struct BidiagonalSvdResult {
  MatrixBatch u;  // rows x cols
  MatrixBatch s;  // 1 x cols, descending
  MatrixBatch v;  // cols x cols
};

// Enqueues the SVD of the loaded matrices; state as enqueue_bidiagonal_dc takes it.
BidiagonalSvdResult enqueue_bidiagonal_svd(Backend& backend, const BidiagonalSvdPlan& plan,
                                           const BidiagonalSvdWorkspace& ws, Buffer state,
                                           uint32_t state_stride);

// The singular values alone, for a caller that wants no vectors: the one-stage reduction without
// its T factors, or the two-stage one (core/band_reduction.h, core/band_bidiagonal.h), then the
// values by multisection (core/bidiagonal_values.h) in place of the divide and conquer, whose
// merges need the vectors; Q and P are never applied.
struct BidiagonalValuesWorkspace {
  bool two_stage = false;
  BidiagonalReduction reduction;  // one stage
  BandReduction band;             // two stages: the first,
  BandBidiagonal bidiagonal;      // and the second
  MatrixBatch sigma;              // 1 x cols
};

BidiagonalValuesWorkspace bidiagonal_values_workspace(WorkspaceLayout& layout,
                                                      const DeviceLimits& limits,
                                                      const BidiagonalSvdPlan& plan,
                                                      ScalarType dtype, uint32_t batch,
                                                      uint32_t rows, uint32_t cols);

// Where the caller loads A (column-major, compute type, rows >= cols).
MatrixBatch bidiagonal_values_input(const BidiagonalValuesWorkspace& ws);

// Enqueues the singular values of the loaded matrices: 1 x cols a matrix, descending.
MatrixBatch enqueue_bidiagonal_svd_values(Backend& backend, const BidiagonalSvdPlan& plan,
                                          const BidiagonalValuesWorkspace& ws);

}  // namespace metalsvd
