// The second stage of a two-stage bidiagonalisation (kernels/band_bidiagonal.h): the upper band
// matrices the first stage left (core/band_reduction.h) to bidiagonal form, one group a matrix.
#pragma once

#include <cstdint>

#include "backend.h"
#include "core/bidiagonal_reduction.h"
#include "core/workspace_layout.h"
#include "matrix_batch.h"

namespace metalsvd {

struct BandBidiagonal {
  ScalarType dtype = ScalarType::f32;  // compute type
  uint32_t batch = 0, n = 0, band = 0;
  Buffer work;  // band storage and the sweeps' reflectors
  int64_t work_batch_stride = 0;
  Buffer de;  // the bidiagonal: d (n), then e (n - 1)
};

BandBidiagonal band_bidiagonal_workspace(WorkspaceLayout& layout, ScalarType dtype, uint32_t batch,
                                         uint32_t n, uint32_t band);

// B's diagonal and superdiagonal, as the bidiagonal value and divide-and-conquer code take them.
BidiagonalDiagonals band_bidiagonal_diagonals(const BandBidiagonal& w);

// Enqueues the reduction of the n x n upper band matrices in `banded` (column-major: `band`
// superdiagonals read, nothing else) to bidiagonal form.
void enqueue_band_bidiagonal(Backend& backend, const BandBidiagonal& w, const MatrixBatch& banded);

}  // namespace metalsvd
