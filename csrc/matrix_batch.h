// Strided views of batches of matrices and vectors in backend buffers (strides in elements).
#pragma once

#include <cstdint>

#include "buffer.h"
#include "scalar_type.h"

namespace metalsvd {

struct MatrixBatch {
  Buffer data;
  ScalarType dtype = ScalarType::f32;
  uint32_t batch = 0;
  uint32_t rows = 0;
  uint32_t cols = 0;
  int64_t batch_stride = 0;
  int64_t row_stride = 0;
  int64_t col_stride = 0;
};

// The same matrices seen transposed: no data moves.
inline MatrixBatch transposed(MatrixBatch m) {
  const uint32_t rows = m.rows;
  m.rows = m.cols;
  m.cols = rows;
  const int64_t row_stride = m.row_stride;
  m.row_stride = m.col_stride;
  m.col_stride = row_stride;
  return m;
}

struct VectorBatch {
  Buffer data;
  ScalarType dtype = ScalarType::f32;
  uint32_t batch = 0;
  uint32_t length = 0;
  int64_t batch_stride = 0;
  int64_t stride = 0;
};

}  // namespace metalsvd
