// Parameters of the fused one-sided Jacobi kernel, shared by the host and every backend.
// Fixed-width types only, 64-bit members first so the layout is identical under Metal,
// CUDA and the host compiler.
#pragma once

#include "dialect.h"

namespace metalsvd {
namespace kernels {

// The matrix as solved is tall (rows >= cols); a wide input is solved through its transpose by
// swapping the input strides and the U/V outputs on the host.
struct JacobiSmallParams {
  int64_t in_batch_stride;  // element strides of the input as solved
  int64_t in_row_stride;
  int64_t in_col_stride;
  int64_t u_batch_stride;  // U: rows x cols
  int64_t u_row_stride;
  int64_t u_col_stride;
  int64_t v_batch_stride;  // V: cols x cols
  int64_t v_row_stride;
  int64_t v_col_stride;
  int64_t s_batch_stride;
  int64_t s_stride;
  uint32_t batch;
  uint32_t rows;
  uint32_t cols;
  uint32_t threads_per_pair;  // power of two <= kSimdWidth: lanes that share one column pair
  uint32_t max_sweeps;
  uint32_t threads;  // threads per threadgroup of this launch
};

// Offsets (in compute-type elements) of the regions of the threadgroup scratch. Leading
// dimensions are odd so that the lanes of different pairs hit different memory banks.
struct JacobiSmallLayout {
  uint32_t lda;     // column stride of A in threadgroup memory
  uint32_t ldv;     // column stride of V (threadgroup memory or device workspace)
  uint32_t a;       // rows x cols working matrix, becomes U
  uint32_t v;       // cols x cols accumulated rotations (only when held in threadgroup memory)
  uint32_t sigma;   // cols column norms
  uint32_t order;   // cols column indices sorted by descending norm
  uint32_t work;    // max(rows, cols) temporary for basis completion
  uint32_t reduce;  // kSimdWidth partial results + 1 flag
  uint32_t total;   // elements of threadgroup memory needed
};

MSVD_HOST_DEVICE uint32_t odd_leading_dimension(uint32_t n) { return n | 1u; }

MSVD_HOST_DEVICE JacobiSmallLayout jacobi_small_layout(uint32_t rows, uint32_t cols,
                                                       bool v_in_threadgroup) {
  JacobiSmallLayout layout;
  layout.lda = odd_leading_dimension(rows);
  layout.ldv = odd_leading_dimension(cols);
  layout.a = 0;
  uint32_t next = layout.a + layout.lda * cols;
  layout.v = next;
  if (v_in_threadgroup) next += layout.ldv * cols;
  layout.sigma = next;
  layout.order = layout.sigma + cols;
  layout.work = layout.order + cols;
  layout.reduce = layout.work + (rows > cols ? rows : cols);
  layout.total = layout.reduce + kSimdWidth + 1;
  return layout;
}

}  // namespace kernels
}  // namespace metalsvd
