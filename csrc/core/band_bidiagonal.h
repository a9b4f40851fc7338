// The second stage of a two-stage bidiagonalisation (kernels/band_bidiagonal.h): the upper band
// matrices the first stage left (core/band_reduction.h) to bidiagonal form, one group a matrix;
// and, for the vectors, its reflectors applied back (kernels/band_back_transform.h).
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
  bool keep_reflectors = false;  // every task's reflectors, for the back-transformation
  Buffer work;                   // band storage, then the reflectors
  int64_t work_batch_stride = 0;
  int64_t left_offset = 0;   // elements from a matrix's work to its left reflectors
  int64_t right_offset = 0;  // ... to its right ones (kept reflectors only)
  Buffer de;                 // the bidiagonal: d (n), then e (n - 1)
};

BandBidiagonal band_bidiagonal_workspace(WorkspaceLayout& layout, ScalarType dtype, uint32_t batch,
                                         uint32_t n, uint32_t band, bool keep_reflectors = false);

// B's diagonal and superdiagonal, as the bidiagonal value and divide-and-conquer code take them.
BidiagonalDiagonals band_bidiagonal_diagonals(const BandBidiagonal& w);

// Enqueues the reduction of the n x n upper band matrices in `banded` (column-major: `band`
// superdiagonals read, nothing else) to bidiagonal form B = Q2^T banded P2.
void enqueue_band_bidiagonal(Backend& backend, const BandBidiagonal& w, const MatrixBatch& banded);

// x <- Q2 x (left) or x <- P2 x (right), x n x any columns of the compute type, any strides:
// stored by rows (col_stride 1), a row of a SIMD group's columns is one access. The reflectors
// must have been kept.
enum class BandSide { left, right };
void enqueue_band_back_transform(Backend& backend, const BandBidiagonal& w, BandSide side,
                                 const MatrixBatch& x);

}  // namespace metalsvd
