// Views of PyTorch tensors as the core's strided buffers (no copies).
#pragma once

#include <ATen/ATen.h>

#include "matrix_batch.h"

namespace metalsvd {

// The core's element type for a tensor dtype; raises TypeError for anything else.
ScalarType scalar_type_of(const at::Tensor& t, const char* function);

// A (B, rows, cols) tensor as a batch of matrices.
MatrixBatch matrix_batch_view(const at::Tensor& t);

// A (B, length) tensor as a batch of vectors.
VectorBatch vector_batch_view(const at::Tensor& t);

// Raw device storage of a tensor (pointer + byte offset 0), for int32 info and workspaces.
Buffer buffer_view(const at::Tensor& t);

}  // namespace metalsvd
