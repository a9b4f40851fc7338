// Randomized truncated SVD (Halko, Martinsson and Tropp 2011, algorithms 4.4 and 5.1): a
// Gaussian sketch Y = A Omega, power iterations re-orthonormalised by Householder QR at every
// step, then the SVD of the small projection Q^T A by svd() (Jacobi).
#pragma once

#include <cstdint>

#include "backend.h"
#include "core/truncated_svd.h"
#include "matrix_batch.h"

namespace metalsvd {

// Columns of the sketch: k + oversample, at most min(rows, cols).
uint32_t randomized_sketch_columns(uint32_t rows, uint32_t cols, uint32_t k, uint32_t oversample);

uint64_t randomized_svd_workspace_bytes(Backend& backend, const MatrixBatch& a, uint32_t k,
                                        uint32_t sketch_columns);

// Enqueues the k largest singular triplets of every matrix of `a`. `omega` holds the Gaussian
// test matrices, min(rows, cols) x sketch_columns each, in the compute type (f32, or f64 for f64
// input) with a GEMM layout: the caller draws them, so the core needs no random generator.
// info: svd()'s status of the small SVD.
void randomized_svd(Backend& backend, const MatrixBatch& a, uint32_t k, uint32_t power_iterations,
                    const MatrixBatch& omega, const TruncatedSvdOutputs& out, Buffer workspace);

}  // namespace metalsvd
