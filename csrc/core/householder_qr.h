// Blocked Householder QR of a batch of tall column-major matrices on the device: panels by
// Cholesky QR2, or tall-skinny QR where that fails (core/panel_qr.h), trailing updates by the
// backend's GEMM (LAPACK xGEQRF). Used to precondition tall SVDs (SVD of R, then U = Q U_R), to
// complete orthonormal bases (full_matrices) and to orthonormalise the randomized SVD's sketches.
#pragma once

#include <cstdint>

#include "backend.h"
#include "core/tsqr_panel.h"
#include "core/workspace_layout.h"
#include "matrix_batch.h"

namespace metalsvd {

// Panels of reflectors that enqueue_apply_q applies at once where x has at least as many
// columns: one read and one update of x a block instead of a panel.
constexpr uint32_t kApplyBlockPanels = 8;

// The reflectors of a factorisation, kept to apply Q later.
struct HouseholderFactors {
  // rows x cols: panel k's reflectors in its columns, unit lower trapezoidal, with zeros above
  // every unit in all rows (a block of panels is then one GEMM operand).
  MatrixBatch y;
  Buffer triangles;  // per matrix: the panels' T factors, room for their S = Y^T Y, then the
                     // QR's scratch
  int64_t triangles_batch_stride = 0;  // elements
  MatrixBatch work;                    // apply_width x max(cols, apply_cols): GEMM products
  MatrixBatch work2;                   // the same size
  MatrixBatch block_gram;              // apply_width^2: Y^T Y of the block being applied
  uint32_t cols = 0;
  uint32_t panel_width = 0;
  uint32_t apply_width = 0;  // reflectors a block of enqueue_apply_q: up to kApplyBlockPanels
                             // panels, at most an eighth of the rows
  uint32_t tile_rows = 0;    // rows of a QR tile (0: the factors of another kernel's reflectors)
  uint32_t tsqr_offset = 0;  // elements from a matrix's triangles to the QR's scratch
  // Where the Cholesky QR's scratch follows the TSQR's, or kNoCholeskyQr: the panels by the TSQR
  // alone (core/panel_qr.h).
  uint32_t cholesky_offset = kNoCholeskyQr;
};

// Takes the factorisation's workspaces for `batch` rows x cols matrices of compute type `dtype`
// from `layout`; Q can then be applied to matrices of up to `apply_cols` columns. The panels'
// width and tiles are tsqr_shape's for the device (`tile_rows`: its wanted rows, 0: the plan's).
HouseholderFactors householder_factors(WorkspaceLayout& layout, const DeviceLimits& limits,
                                       ScalarType dtype, uint32_t batch, uint32_t rows,
                                       uint32_t cols, uint32_t apply_cols, uint32_t tile_rows = 0);

// The T factors and scratch for reflectors that another kernel writes into `y` (column k of
// y: reflector k, unit at row k, zeros above; tau at kernels::householder_tau_index(k, cols)
// of the triangles). enqueue_householder_triangles then forms T, and Q applies as after a QR.
HouseholderFactors householder_factors_for(WorkspaceLayout& layout, const MatrixBatch& y,
                                           uint32_t apply_cols);
void enqueue_householder_triangles(Backend& backend, const HouseholderFactors& f);

// Factors `a` (column-major, compute type, rows >= cols) in place: R in its upper triangle
// (below it, scratch). Clears `f.y` first (enqueue_clear_reflectors).
void enqueue_householder_qr(Backend& backend, const MatrixBatch& a, const HouseholderFactors& f);

// Zeros the whole of f.y, so that the reflectors that panel QRs write from their panel's first
// row down have zeros above them, as enqueue_apply_q's blocks need. For callers that factor
// panels themselves, before the first.
void enqueue_clear_reflectors(Backend& backend, const HouseholderFactors& f);

// Panel `index` of a factorisation as a TSQR panel's place (its T, the QR's scratch), and its
// T (width x width) as a GEMM operand, for callers that factor panels themselves.
TsqrPanelPlace householder_panel_place(const HouseholderFactors& f, uint32_t index);
MatrixBatch householder_panel_triangle(const HouseholderFactors& f, uint32_t index, uint32_t width);

// x <- Q x for x (column-major, rows x apply_cols at most) with Q = H_1 ... H_cols: a block of
// apply_width reflectors at a time where x has at least apply_width columns, else a panel.
void enqueue_apply_q(Backend& backend, const HouseholderFactors& f, const MatrixBatch& x);

}  // namespace metalsvd
