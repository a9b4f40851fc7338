// What the truncated SVDs (randomized_svd.h, lanczos_svd.h) share: their outputs, argument
// checks, and the tall compute-type matrix their GEMMs read.
#pragma once

#include <cstdint>

#include "backend.h"
#include "core/workspace_layout.h"
#include "matrix_batch.h"

namespace metalsvd {

// The k largest singular triplets: A ~ U diag(S) V^T.
struct TruncatedSvdOutputs {
  MatrixBatch u;  // rows x k, the input's dtype
  VectorBatch s;  // k, descending
  MatrixBatch v;  // cols x k
  Buffer info;    // one int32 per matrix: kernels::SvdStatus
};

// Throws InvalidArgument unless 1 <= k < min(rows, cols), the outputs match and the device
// has the dtype. `function` names the caller in messages.
void check_truncated(const Backend& backend, const char* function, const MatrixBatch& a, uint32_t k,
                     const TruncatedSvdOutputs& out);

// The problem as the algorithms solve it: tall (wide inputs through the transpose, U and V
// swapped), in the compute type. `a` is the user's matrix itself when it already is in the
// compute type with a layout GEMM reads; otherwise a copy scaled by a power of two (the state's
// exponent) that load() writes.
struct TallInput {
  MatrixBatch user;  // the user's matrix, tall view
  MatrixBatch a;     // what the GEMMs read
  MatrixBatch u;     // the tall problem's outputs (the user's V and U for wide inputs)
  MatrixBatch v;
  bool loaded = false;
  Buffer partial_max;  // scratch of the input scaling, when loaded
};

TallInput take_tall_input(WorkspaceLayout& layout, const MatrixBatch& a,
                          const TruncatedSvdOutputs& out);

// Enqueues the copy (and its scaling exponent into state[kStateExponent]) when there is one.
void load_tall_input(Backend& backend, const TallInput& input, Buffer state, uint32_t state_stride);

}  // namespace metalsvd
