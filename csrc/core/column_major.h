// Views of column-major compute-type matrices in workspaces, the layout every workspace kernel
// and GEMM of the core uses.
#pragma once

#include <cstdint>

#include "core/workspace_layout.h"
#include "matrix_batch.h"

namespace metalsvd {

// `batch` matrices of rows x cols, leading dimension ld, batch_stride elements apart, starting
// at element (row0, col0) of each.
inline MatrixBatch column_major(Buffer base, ScalarType dtype, uint32_t batch, uint32_t rows,
                                uint32_t cols, uint32_t ld, int64_t batch_stride, uint32_t row0 = 0,
                                uint32_t col0 = 0) {
  MatrixBatch m;
  m.data = advanced(base, (static_cast<uint64_t>(col0) * ld + row0) * element_size(dtype));
  m.dtype = dtype;
  m.batch = batch;
  m.rows = rows;
  m.cols = cols;
  m.batch_stride = batch_stride;
  m.row_stride = 1;
  m.col_stride = ld;
  return m;
}

// A fresh workspace region holding `batch` column-major rows x cols matrices, packed.
inline MatrixBatch take_matrix(WorkspaceLayout& layout, ScalarType dtype, uint32_t batch,
                               uint32_t rows, uint32_t cols) {
  const int64_t stride = int64_t{rows} * cols;
  return column_major(layout.take(batch * stride * element_size(dtype)), dtype, batch, rows, cols,
                      rows, stride);
}

// The sub-block rows x cols at (row0, col0) of a column-major view.
inline MatrixBatch sub_block(const MatrixBatch& m, uint32_t row0, uint32_t col0, uint32_t rows,
                             uint32_t cols) {
  MatrixBatch s = m;
  s.data = advanced(m.data, static_cast<uint64_t>(row0 * m.row_stride + col0 * m.col_stride) *
                                element_size(m.dtype));
  s.rows = rows;
  s.cols = cols;
  return s;
}

// A batch of vectors as 1 x length matrices, for the transfer kernels.
inline MatrixBatch vector_as_row(const VectorBatch& s) {
  MatrixBatch m;
  m.data = s.data;
  m.dtype = s.dtype;
  m.batch = s.batch;
  m.rows = 1;
  m.cols = s.length;
  m.batch_stride = s.batch_stride;
  m.row_stride = int64_t{s.length} * s.stride;
  m.col_stride = s.stride;
  return m;
}

}  // namespace metalsvd
