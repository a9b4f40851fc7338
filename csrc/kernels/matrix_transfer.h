// Moves matrices between the user's tensors (any strides, storage type T) and column-major
// compute-type workspaces, with the exact power-of-two scaling that keeps sums of squares in
// range; and fills workspaces with (shifted) identities.
#pragma once

#include "dialect.h"
#include "group_reduce.h"
#include "svd_status.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

enum TransferMode : uint32_t {
  kTransferScaled = 1,         // load: multiply by 2^-exponent; store: by 2^exponent
  kTransferUpperTriangle = 2,  // load: zeros below the diagonal
  kTransferNanIfNonFinite = 4  // store: nan where the input was not finite
};

struct MatrixTransferParams {
  int64_t io_batch_stride;  // the user-side matrix, in elements
  int64_t io_row_stride;
  int64_t io_col_stride;
  int64_t work_batch_stride;  // the workspace side: column-major with leading dimension work_ld
  uint32_t batch;
  uint32_t rows;  // the user-side extent
  uint32_t cols;
  uint32_t work_ld;
  uint32_t work_rows;  // load/identity: workspace extent written (beyond rows/cols: zeros)
  uint32_t work_cols;
  uint32_t state_stride;
  uint32_t groups_per_matrix;
  uint32_t threads;
  uint32_t mode;            // TransferMode bits
  int32_t diagonal_offset;  // identity: ones where row == col + diagonal_offset
  uint32_t unused;
};

// Groups: batch x groups_per_matrix. Each writes max |a_ij| over its share of the matrix (inf
// if it saw a value that is not finite) to w0[matrix * groups_per_matrix + group].
template <typename P, typename T, typename C>
MSVD_INLINE void matrix_partial_max(MSVD_CONSTANT const P& p, MSVD_DEVICE T* io, MSVD_DEVICE C* w0,
                                    MSVD_DEVICE C*, MSVD_DEVICE C*, MSVD_DEVICE int32_t*,
                                    MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                    ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  const StridedRange range = group_share(p.groups_per_matrix, p.threads, ctx);
  MSVD_DEVICE const T* a = io + static_cast<int64_t>(matrix) * p.io_batch_stride;
  C local_max = C(0);
  const bool rows_contiguous = p.io_row_stride == 1;
  for (uint32_t idx = range.first; idx < p.rows * p.cols; idx += range.step) {
    const uint32_t r = rows_contiguous ? idx % p.rows : idx / p.cols;
    const uint32_t c = rows_contiguous ? idx / p.rows : idx % p.cols;
    const C x = to_compute<C>(a[r * p.io_row_stride + c * p.io_col_stride]);
    local_max = math_isfinite(x) ? math_max(local_max, math_abs(x)) : NumericLimits<C>::infinity();
  }
  const C max_abs = group_reduce_max(local_max, scratch, ctx, p.threads);
  if (ctx.thread_index == 0) w0[ctx.group] = max_abs;
}

// One group per matrix, after matrix_partial_max: the scaling exponent that brings max |a_ij|
// into [0.5, 1), and whether the matrix is finite. Also resets the matrix's progress in state.
template <typename P, typename T, typename C>
MSVD_INLINE void matrix_scale_exponent(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                       MSVD_DEVICE C*, MSVD_DEVICE C*, MSVD_DEVICE int32_t* state,
                                       MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                       ThreadContext ctx) {
  MSVD_DEVICE const C* partial = w0 + ctx.group * p.groups_per_matrix;
  C local_max = C(0);
  for (uint32_t g = ctx.thread_index; g < p.groups_per_matrix; g += p.threads)
    local_max = math_max(local_max, partial[g]);
  const C max_abs = group_reduce_max(local_max, scratch, ctx, p.threads);
  if (ctx.thread_index == 0) {
    MSVD_DEVICE int32_t* s = state + ctx.group * p.state_stride;
    const bool finite = math_isfinite(max_abs);
    s[kStateExponent] = finite && max_abs > C(0) ? math_exponent(max_abs) : 0;
    s[kStateStatus] = finite ? kSvdConverged : kSvdNonFiniteInput;
    s[kStateConverged] = finite ? 0 : 1;
    s[kStateCopy] = 0;
    s[kStatePolish] = 0;
    for (uint32_t k = kStatePairFlags; k < p.state_stride; ++k) s[k] = 0;
  }
}

MSVD_INLINE int32_t transfer_exponent(MSVD_CONSTANT const MatrixTransferParams& p,
                                      MSVD_DEVICE const int32_t* state, uint32_t matrix) {
  return (p.mode & kTransferScaled) != 0u ? state[matrix * p.state_stride + kStateExponent] : 0;
}

// user matrix (rows x cols) -> workspace (work_rows x work_cols, zero padded), scaled.
template <typename P, typename T, typename C>
MSVD_INLINE void matrix_load(MSVD_CONSTANT const P& p, MSVD_DEVICE T* io, MSVD_DEVICE C* w0,
                             MSVD_DEVICE C*, MSVD_DEVICE C*, MSVD_DEVICE int32_t* state,
                             MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  const StridedRange range = group_share(p.groups_per_matrix, p.threads, ctx);
  MSVD_DEVICE const T* a = io + static_cast<int64_t>(matrix) * p.io_batch_stride;
  MSVD_DEVICE C* w = w0 + static_cast<int64_t>(matrix) * p.work_batch_stride;
  const int32_t exponent = transfer_exponent(p, state, matrix);
  const bool upper = (p.mode & kTransferUpperTriangle) != 0u;
  for (uint32_t idx = range.first; idx < p.work_rows * p.work_cols; idx += range.step) {
    const uint32_t r = idx % p.work_rows;
    const uint32_t c = idx / p.work_rows;
    C x = C(0);
    if (r < p.rows && c < p.cols && (!upper || r <= c))
      x = math_ldexp(to_compute<C>(a[r * p.io_row_stride + c * p.io_col_stride]), -exponent);
    w[c * p.work_ld + r] = x;
  }
}

// workspace (rows x cols) -> user matrix, unscaled; nan for matrices that were not finite.
template <typename P, typename T, typename C>
MSVD_INLINE void matrix_store(MSVD_CONSTANT const P& p, MSVD_DEVICE T* io, MSVD_DEVICE C* w0,
                              MSVD_DEVICE C*, MSVD_DEVICE C*, MSVD_DEVICE int32_t* state,
                              MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  const StridedRange range = group_share(p.groups_per_matrix, p.threads, ctx);
  MSVD_DEVICE T* a = io + static_cast<int64_t>(matrix) * p.io_batch_stride;
  MSVD_DEVICE const C* w = w0 + static_cast<int64_t>(matrix) * p.work_batch_stride;
  const int32_t exponent = transfer_exponent(p, state, matrix);
  const bool nan_out = (p.mode & kTransferNanIfNonFinite) != 0u &&
                       state[matrix * p.state_stride + kStateStatus] == kSvdNonFiniteInput;
  const bool rows_contiguous = p.io_row_stride == 1;
  for (uint32_t idx = range.first; idx < p.rows * p.cols; idx += range.step) {
    const uint32_t r = rows_contiguous ? idx % p.rows : idx / p.cols;
    const uint32_t c = rows_contiguous ? idx / p.rows : idx % p.cols;
    const C x =
        nan_out ? NumericLimits<C>::quiet_nan() : math_ldexp(w[c * p.work_ld + r], exponent);
    a[r * p.io_row_stride + c * p.io_col_stride] = from_compute<T>(x);
  }
}

// workspace (work_rows x work_cols) = ones where row == col + diagonal_offset, else zeros.
template <typename P, typename T, typename C>
MSVD_INLINE void matrix_set_identity(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                     MSVD_DEVICE C*, MSVD_DEVICE C*, MSVD_DEVICE int32_t*,
                                     MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  const StridedRange range = group_share(p.groups_per_matrix, p.threads, ctx);
  MSVD_DEVICE C* w = w0 + static_cast<int64_t>(matrix) * p.work_batch_stride;
  for (uint32_t idx = range.first; idx < p.work_rows * p.work_cols; idx += range.step) {
    const uint32_t r = idx % p.work_rows;
    const uint32_t c = idx / p.work_rows;
    w[c * p.work_ld + r] =
        static_cast<int32_t>(r) == static_cast<int32_t>(c) + p.diagonal_offset ? C(1) : C(0);
  }
}

// One thread per matrix (batch of them): info = the status the SVD's kernels left in state.
template <typename P, typename T, typename C>
MSVD_INLINE void matrix_status_to_info(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C*,
                                       MSVD_DEVICE C*, MSVD_DEVICE C*, MSVD_DEVICE int32_t* state,
                                       MSVD_DEVICE int32_t* info, MSVD_THREADGROUP C*,
                                       ThreadContext ctx) {
  const uint32_t matrix = ctx.group * p.threads + ctx.thread_index;
  if (matrix < p.batch) info[matrix] = state[matrix * p.state_stride + kStateStatus];
}

}  // namespace kernels
}  // namespace metalsvd
