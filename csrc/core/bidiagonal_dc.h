// The SVD of a batch of upper bidiagonal matrices by divide and conquer on the device
// (kernels/bidiagonal_dc.h, kernels/dc_apply.h): the tree's levels from the bottom up, each a
// few launches for all its nodes; the vectors of large nodes through the backend's GEMM.
#pragma once

#include <cstdint>

#include "backend.h"
#include "core/workspace_layout.h"
#include "matrix_batch.h"

namespace metalsvd {

// Nodes of at least this many rows take their four vector products from the backend's GEMM,
// one call each; smaller ones are all formed by one dc_apply launch a level. (A level of
// 512-row nodes at n = 4096 is 8 nodes, 32 GEMMs.)
constexpr uint32_t kDcGemmRows = 512;

struct DcWorkspace {
  Buffer real;      // kernels::kDcRealArrays x n per matrix
  Buffer matrices;  // kernels::kDcMatrices kinds of n x n matrix, each for the whole batch
  Buffer ints;      // kernels::kDcIntArrays x n int32 per matrix
  int64_t real_stride = 0, matrix_stride = 0, int_stride = 0;  // elements between matrices
};

DcWorkspace dc_workspace(WorkspaceLayout& layout, ScalarType dtype, uint32_t batch, uint32_t n);

// The bidiagonal matrices: d (n) and e (n - 1) of each, e at e_offset after d, matrices
// batch_stride elements apart (compute type).
struct DcInput {
  Buffer d;
  int64_t batch_stride = 0;
  uint32_t e_offset = 0;
};

// Where the result is (views into the workspace): B = U diag(sigma) W^T, sigma descending.
struct DcResult {
  MatrixBatch u;      // n x n
  MatrixBatch w;      // n x n
  MatrixBatch sigma;  // 1 x n
};

// Enqueues the SVD of every matrix; a root finder that reached its iteration cap marks the
// matrix kSvdNotConverged in state (int32, state_stride per matrix).
DcResult enqueue_bidiagonal_dc(Backend& backend, const DcWorkspace& ws, ScalarType dtype,
                               uint32_t batch, uint32_t n, const DcInput& input, Buffer state,
                               uint32_t state_stride, uint32_t gemm_rows = kDcGemmRows);

}  // namespace metalsvd
