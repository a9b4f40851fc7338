// The singular values alone of a batch of upper bidiagonal matrices, on the device
// (kernels/bidiagonal_values.h): one launch, a SIMD group a value.
#pragma once

#include <cstdint>

#include "backend.h"
#include "core/bidiagonal_reduction.h"
#include "matrix_batch.h"

namespace metalsvd {

// Enqueues sigma (1 x n a matrix, descending, compute type) of every n x n bidiagonal of `de`.
// points: lanes a value (4, 8, 16 or 32); 0: kernels::bidiagonal_values_points(n).
void enqueue_bidiagonal_values(Backend& backend, ScalarType dtype, uint32_t batch, uint32_t n,
                               const BidiagonalDiagonals& de, const MatrixBatch& sigma,
                               uint32_t points = 0);

}  // namespace metalsvd
