#include "backend.h"

#include <string>

#include "core/errors.h"

namespace metalsvd {

bool blas_layout(const MatrixBatch& m) {
  if (m.rows <= 1 || m.cols <= 1) return true;  // any stride serves a vector
  if (m.row_stride == 1) return m.col_stride >= static_cast<int64_t>(m.rows);
  if (m.col_stride == 1) return m.row_stride >= static_cast<int64_t>(m.cols);
  return false;
}

namespace {

uint64_t span_bytes(const MatrixBatch& m) {
  if (m.batch == 0 || m.rows == 0 || m.cols == 0) return 0;
  const uint64_t last = static_cast<uint64_t>(m.batch - 1) * m.batch_stride +
                        static_cast<uint64_t>(m.rows - 1) * m.row_stride +
                        static_cast<uint64_t>(m.cols - 1) * m.col_stride;
  return (last + 1) * element_size(m.dtype);
}

bool overlaps(const MatrixBatch& x, const MatrixBatch& y) {
  if (x.data.handle != y.data.handle) return false;
  const uint64_t x_end = x.data.offset + span_bytes(x);
  const uint64_t y_end = y.data.offset + span_bytes(y);
  return x.data.offset < y_end && y.data.offset < x_end;
}

}  // namespace

void check_gemm(const Gemm& g, const char* backend_name) {
  const std::string where = std::string("metalsvd ") + backend_name + " backend gemm: ";
  const ScalarType t = g.c.dtype;
  if (t != ScalarType::f32 && t != ScalarType::f64)
    throw Error(where + "operands must be f32 or f64");
  if (g.a.dtype != t || g.b.dtype != t) throw Error(where + "operands of different types");
  if (g.a.rows != g.c.rows || g.b.cols != g.c.cols || g.a.cols != g.b.rows)
    throw Error(where + "inner dimensions do not match");
  if (g.a.batch != g.c.batch || g.b.batch != g.c.batch) throw Error(where + "batch sizes differ");
  if (!blas_layout(g.a) || !blas_layout(g.b) || !blas_layout(g.c))
    throw Error(where + "every operand needs a unit stride along its rows or its columns");
  if (g.c.batch_stride == 0 && g.c.batch > 1) throw Error(where + "c repeats one matrix");
  if (g.a.batch_stride < 0 || g.b.batch_stride < 0 || g.c.batch_stride < 0)
    throw Error(where + "negative batch stride");
  if (overlaps(g.a, g.c) || overlaps(g.b, g.c)) throw Error(where + "c overlaps an input");
}

}  // namespace metalsvd
