// The second stage of a two-stage bidiagonalisation (kernels/band_bidiagonal.h): the upper band
// matrices the first stage left (core/band_reduction.h) to bidiagonal form, one group a matrix;
// and, for the vectors, its reflectors applied back (kernels/band_back_transform.h).
#pragma once

#include <cstdint>
#include <functional>

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

// The back-transformation's stages (SIMD groups a group, each taking a group of `band` sweeps
// at a time) for `groups` groups (matrices times slices of columns): `most`, fewer where there
// are fewer groups of sweeps, unless `concurrent` (how many groups of that many stages the
// device runs at once; 0: it cannot tell) makes half or a quarter as many (not under
// kMinBackTransformStages) finish sooner. The estimate: the waves of groups the device runs
// one after another times a group's steps (barrier to barrier), a step taking about as long
// however many stages share a multiprocessor, all of them issuing into it. Fewer stages spend
// fewer steps filling and draining their pipelines, and more of them fit at once; a last
// wave a few groups long costs a whole one.
constexpr uint32_t kMinBackTransformStages = 4;
uint32_t band_back_transform_stages(uint32_t n, uint32_t band, uint64_t groups, uint32_t most,
                                    const std::function<uint64_t(uint32_t stages)>& concurrent);

}  // namespace metalsvd
