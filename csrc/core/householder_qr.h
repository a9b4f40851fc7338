// Blocked Householder QR of a batch of tall column-major matrices on the device: panels by a
// portable kernel, trailing updates by the backend's GEMM (LAPACK xGEQRF). Used to precondition
// tall SVDs (SVD of R, then U = Q U_R) and to complete orthonormal bases (full_matrices).
#pragma once

#include <cstdint>

#include "backend.h"
#include "core/workspace_layout.h"
#include "matrix_batch.h"

namespace metalsvd {

// The reflectors of a factorisation, kept to apply Q later.
struct HouseholderFactors {
  MatrixBatch y;     // rows x cols: panel k's reflectors in its columns, unit lower trapezoid
  Buffer triangles;  // per matrix: the panels' T factors, then room for one S = Y^T Y
  int64_t triangles_batch_stride = 0;  // elements
  MatrixBatch work;                    // panel_width x max(cols, apply_cols): GEMM products
  MatrixBatch work2;                   // the same size
  uint32_t cols = 0;
  uint32_t panel_width = 0;
  // Groups that share one matrix's panel (householder_column); 1: one group per matrix
  // (householder_panel), for matrices of few rows.
  uint32_t groups_per_matrix = 1;
  uint32_t rows_per_group = 0;  // a multiple of kernels::kSimdWidth
  uint32_t sums_offset = 0;     // elements from a matrix's triangles to its reflector sums
};

// Rows from which a matrix's panels are spread over several groups, a launch per reflector: a
// group walking many rows takes milliseconds per panel, while a launch costs microseconds.
constexpr uint32_t kSingleGroupPanelRows = 512;
// The rows of each of those groups. Narrower groups spread a launch over more multiprocessors,
// but every group reduces every group's sums.
constexpr uint32_t kPanelGroupRows = 256;

// Takes the factorisation's workspaces for `batch` rows x cols matrices of compute type `dtype`
// from `layout`; Q can then be applied to matrices of up to `apply_cols` columns. `panel_rows`:
// the rows of each panel group (rounded up to whole SIMD groups), a matrix of at most that many
// rows taking one group; 0: the plan's (kSingleGroupPanelRows, kPanelGroupRows).
HouseholderFactors householder_factors(WorkspaceLayout& layout, ScalarType dtype, uint32_t batch,
                                       uint32_t rows, uint32_t cols, uint32_t apply_cols,
                                       uint32_t panel_rows = 0);

// The T factors and scratch for reflectors that another kernel writes into `y` (column k of
// y: reflector k, unit at row k, zeros above; tau at kernels::householder_tau_index(k, cols)
// of the triangles). enqueue_householder_triangles then forms T, and Q applies as after a QR.
HouseholderFactors householder_factors_for(WorkspaceLayout& layout, const MatrixBatch& y,
                                           uint32_t apply_cols);
void enqueue_householder_triangles(Backend& backend, const HouseholderFactors& f);

// Factors `a` (column-major, compute type, rows >= cols) in place: R in its upper triangle.
void enqueue_householder_qr(Backend& backend, const MatrixBatch& a, const HouseholderFactors& f);

// x <- Q x for x (column-major, rows x apply_cols at most) with Q = H_1 ... H_cols.
void enqueue_apply_q(Backend& backend, const HouseholderFactors& f, const MatrixBatch& x);

}  // namespace metalsvd
