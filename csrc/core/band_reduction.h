// The first stage of a two-stage bidiagonalisation: A = Q B P^T for a batch of tall matrices,
// B upper triangular with `band` superdiagonals, by Householder panels a block column at a time
// (a QR of the column panel, then an LQ of the row panel right of it), each factored by
// Cholesky QR2 or tall-skinny QR (core/panel_qr.h) and applied by the backend's GEMM. Almost all of
// the work is GEMMs, where a one-stage bidiagonalisation is two dependent matrix-vector products a
// column (core/bidiagonal_reduction.h). The second stage (core/band_bidiagonal.h) takes B to
// bidiagonal form.
#pragma once

#include <cstdint>

#include "backend.h"
#include "core/householder_qr.h"
#include "core/workspace_layout.h"
#include "matrix_batch.h"

namespace metalsvd {

struct BandReduction {
  ScalarType dtype = ScalarType::f32;  // compute type
  uint32_t batch = 0, rows = 0, cols = 0;
  uint32_t band = 0;     // B's superdiagonals: the panels' width (householder_factors')
  MatrixBatch a;         // rows x cols, column-major: A, then B in its band (elsewhere scratch)
  HouseholderFactors q;  // rows x cols: the column panels' reflectors
  HouseholderFactors p;  // (cols - band) x (cols - band) acting on rows band .. cols - 1: the
                         // row panels' (none where cols <= band)
};

// Workspace for `batch` rows x cols (rows >= cols) problems; Q then applies to matrices of up
// to q_apply_cols columns, P to (cols - band)-row matrices of up to p_apply_cols columns.
// tile_rows: the QR tiles' rows (tsqr_shape's `wanted_rows`).
BandReduction band_reduction_workspace(WorkspaceLayout& layout, const DeviceLimits& limits,
                                       ScalarType dtype, uint32_t batch, uint32_t rows,
                                       uint32_t cols, uint32_t q_apply_cols, uint32_t p_apply_cols,
                                       uint32_t tile_rows = 0);

// Enqueues the reduction of r.a (loaded by the caller) to B.
void enqueue_band_reduction(Backend& backend, const BandReduction& r);

// x <- Q x (x: rows x up to q_apply_cols) and w <- P w (w: cols x up to p_apply_cols),
// column-major compute-type matrices.
void enqueue_apply_band_q(Backend& backend, const BandReduction& r, const MatrixBatch& x);
void enqueue_apply_band_p(Backend& backend, const BandReduction& r, const MatrixBatch& w);

}  // namespace metalsvd
