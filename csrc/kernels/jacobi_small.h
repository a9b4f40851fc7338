// Fused one-sided Jacobi SVD: one threadgroup factors one whole matrix held in threadgroup
// memory, all sweeps in one launch, convergence decided on the device.
//
// For a tall matrix A (rows >= cols) the kernel orthogonalises the columns of A by plane
// rotations applied from the right, accumulating them in V. At convergence A V = U S with the
// column norms as S. The sweeps come in two strategies (the plan picks one):
// - PairwiseSweeps: a round-robin (circle-method) order, each round updating cols/2 disjoint
//   pairs in parallel, each by `threads_per_pair` lanes reading threadgroup memory;
// - WarpBlockSweeps: blocks of columns held in registers by one SIMD group, which rotates
//   every pair among them before writing back: fewer threadgroup-memory accesses per rotation.
//
// Numerics (Demmel & Veselic 1992; LAPACK xGESVJ):
// - the input is scaled by a power of two so that max |a_ij| lies in [0.5, 1): exact, and no
//   later sum of squares overflows or underflows for any column that matters;
// - a pair is rotated only if |a_i.a_j| > tol ||a_i|| ||a_j||: the criterion is relative, which
//   keeps the small singular values of graded matrices accurate to high relative precision;
// - columns that end with negligible norm get S = 0 and a U column completed by Gram-Schmidt
//   (twice) from the unit vector least represented in the span of the others.
#pragma once

#include "dialect.h"
#include "group_reduce.h"
#include "jacobi_pairwise_sweeps.h"
#include "jacobi_rotation.h"
#include "jacobi_small_params.h"
#include "jacobi_warp_block_sweeps.h"
#include "svd_status.h"

namespace metalsvd {
namespace kernels {

// Element idx of a rows x cols matrix, walked so that consecutive threads touch consecutive
// device addresses: down a column when rows are contiguous, along a row otherwise.
struct MatrixIndex {
  uint32_t row;
  uint32_t col;
};
MSVD_INLINE MatrixIndex matrix_index(uint32_t idx, uint32_t rows, uint32_t cols,
                                     bool rows_contiguous) {
  MatrixIndex at;
  if (rows_contiguous) {
    at.row = idx % rows;
    at.col = idx / rows;
  } else {
    at.row = idx / cols;
    at.col = idx % cols;
  }
  return at;
}

template <typename T, typename C>
MSVD_INLINE void write_nan_outputs(MSVD_CONSTANT const JacobiSmallParams& p, MSVD_DEVICE T* u_dst,
                                   MSVD_DEVICE T* s_dst, MSVD_DEVICE T* v_dst, uint32_t tid,
                                   uint32_t threads) {
  const T nan = from_compute<T>(NumericLimits<C>::quiet_nan());
  const uint32_t m = p.rows;
  const uint32_t n = p.cols;
  for (uint32_t idx = tid; idx < m * n; idx += threads)
    u_dst[(idx / n) * p.u_row_stride + (idx % n) * p.u_col_stride] = nan;
  for (uint32_t idx = tid; idx < n * n; idx += threads)
    v_dst[(idx / n) * p.v_row_stride + (idx % n) * p.v_col_stride] = nan;
  for (uint32_t t = tid; t < n; t += threads) s_dst[t * p.s_stride] = nan;
}

// Writes column order[t] of `source` (leading dimension ld, in threadgroup or device memory) as
// column t of a rows x cols output, converted to the output type.
template <typename T, typename C, typename Source>
MSVD_INLINE void write_columns_in_order(MSVD_DEVICE T* dst, int64_t row_stride, int64_t col_stride,
                                        Source source, uint32_t ld, uint32_t rows, uint32_t cols,
                                        MSVD_THREADGROUP const C* order, uint32_t tid,
                                        uint32_t threads) {
  const bool rows_contiguous = row_stride == 1;
  for (uint32_t idx = tid; idx < rows * cols; idx += threads) {
    const MatrixIndex at = matrix_index(idx, rows, cols, rows_contiguous);
    const uint32_t col = static_cast<uint32_t>(order[at.col]);
    dst[at.row * row_stride + at.col * col_stride] = from_compute<T>(source[col * ld + at.row]);
  }
}

// Replaces column order[t] of `a` (whose norm was negligible) by a unit vector orthogonal to
// the columns order[0..t). The row of least leverage in their span gives a start vector with
// at least (rows - t) / rows of its norm outside it, so two Gram-Schmidt passes are enough.
template <typename C>
MSVD_INLINE void complete_column(MSVD_THREADGROUP C* a, uint32_t lda, uint32_t rows,
                                 MSVD_THREADGROUP const C* order, uint32_t t,
                                 MSVD_THREADGROUP C* work, MSVD_THREADGROUP C* partials,
                                 uint32_t threads, ThreadContext ctx) {
  const uint32_t tid = ctx.thread_index;
  MSVD_THREADGROUP C* target = a + static_cast<uint32_t>(order[t]) * lda;
  for (uint32_t r = tid; r < rows; r += threads) {
    C leverage = C(0);
    for (uint32_t s = 0; s < t; ++s) {
      const C x = a[static_cast<uint32_t>(order[s]) * lda + r];
      leverage += x * x;
    }
    work[r] = leverage;
  }
  group_barrier();
  uint32_t start_row = 0;
  for (uint32_t r = 1; r < rows; ++r)
    if (work[r] < work[start_row]) start_row = r;
  for (uint32_t r = tid; r < rows; r += threads) {
    C x = r == start_row ? C(1) : C(0);
    for (uint32_t s = 0; s < t; ++s) {
      MSVD_THREADGROUP const C* u = a + static_cast<uint32_t>(order[s]) * lda;
      x -= u[r] * u[start_row];
    }
    target[r] = x;
  }
  group_barrier();
  for (uint32_t s = tid; s < t; s += threads) {
    MSVD_THREADGROUP const C* u = a + static_cast<uint32_t>(order[s]) * lda;
    C dot = C(0);
    for (uint32_t r = 0; r < rows; ++r) dot += u[r] * target[r];
    work[s] = dot;
  }
  group_barrier();
  C local_norm_squared = C(0);
  for (uint32_t r = tid; r < rows; r += threads) {
    C x = target[r];
    for (uint32_t s = 0; s < t; ++s) x -= work[s] * a[static_cast<uint32_t>(order[s]) * lda + r];
    target[r] = x;
    local_norm_squared += x * x;
  }
  const C norm = math_sqrt(group_reduce_sum(local_norm_squared, partials, ctx, threads));
  for (uint32_t r = tid; r < rows; r += threads) target[r] /= norm;
  group_barrier();
}

template <typename T, typename C, typename Sweeps, bool kVInThreadgroup, typename VPointer>
MSVD_INLINE void jacobi_small_body(MSVD_CONSTANT const JacobiSmallParams& p,
                                   MSVD_DEVICE const T* a_in, MSVD_DEVICE T* u_out,
                                   MSVD_DEVICE T* s_out, MSVD_DEVICE T* v_out,
                                   MSVD_DEVICE int32_t* info_out, MSVD_THREADGROUP C* scratch,
                                   VPointer v, JacobiSmallLayout layout, ThreadContext ctx) {
  const uint32_t m = p.rows;
  const uint32_t n = p.cols;
  const uint32_t tid = ctx.thread_index;
  const uint32_t threads = p.threads;
  const uint32_t lda = layout.lda;
  const uint32_t ldv = layout.ldv;
  MSVD_THREADGROUP C* a = scratch + layout.a;
  MSVD_THREADGROUP C* sigma = scratch + layout.sigma;
  MSVD_THREADGROUP C* order = scratch + layout.order;
  MSVD_THREADGROUP C* work = scratch + layout.work;
  MSVD_THREADGROUP C* partials = scratch + layout.reduce;
  MSVD_THREADGROUP C* rotated_flag = partials + kSimdWidth;

  MSVD_DEVICE const T* src = a_in + static_cast<int64_t>(ctx.group) * p.in_batch_stride;
  MSVD_DEVICE T* u_dst = u_out + static_cast<int64_t>(ctx.group) * p.u_batch_stride;
  MSVD_DEVICE T* v_dst = v_out + static_cast<int64_t>(ctx.group) * p.v_batch_stride;
  MSVD_DEVICE T* s_dst = s_out + static_cast<int64_t>(ctx.group) * p.s_batch_stride;

  // 1. Load; max |a_ij| becomes inf if any entry is not finite.
  const bool input_rows_contiguous = p.in_row_stride == 1;
  C local_max = C(0);
  for (uint32_t idx = tid; idx < m * n; idx += threads) {
    const MatrixIndex at = matrix_index(idx, m, n, input_rows_contiguous);
    const C x = to_compute<C>(src[at.row * p.in_row_stride + at.col * p.in_col_stride]);
    a[at.col * lda + at.row] = x;
    local_max = math_isfinite(x) ? math_max(local_max, math_abs(x)) : NumericLimits<C>::infinity();
  }
  const C max_abs = group_reduce_max(local_max, partials, ctx, threads);
  if (!math_isfinite(max_abs)) {
    write_nan_outputs<T, C>(p, u_dst, s_dst, v_dst, tid, threads);
    if (tid == 0) info_out[ctx.group] = kSvdNonFiniteInput;
    return;
  }
  // 2. Scale exactly by 2^-exponent (each thread rescales the elements it loaded); V = I.
  const int exponent = max_abs > C(0) ? math_exponent(max_abs) : 0;
  for (uint32_t idx = tid; idx < m * n; idx += threads) {
    const MatrixIndex at = matrix_index(idx, m, n, input_rows_contiguous);
    a[at.col * lda + at.row] = math_ldexp(a[at.col * lda + at.row], -exponent);
  }
  for (uint32_t idx = tid; idx < n * n; idx += threads) {
    const uint32_t r = idx % n;
    const uint32_t c = idx / n;
    v[c * ldv + r] = r == c ? C(1) : C(0);
  }
  group_barrier_with_device_memory();

  // 3. Sweeps until no pair needs a rotation.
  const C negligible = negligible_norm_squared<C>();
  const int32_t status =
      Sweeps::template run<C, kVInThreadgroup>(p, a, lda, v, ldv, rotated_flag, ctx);

  // 4. Singular values are the column norms of A V. Rounded rotations are exact rotations
  //    scaled by 1 + O(eps), which drifts the norms of V's columns (and equally A's) but not
  //    their orthogonality: dividing both by ||v_j|| removes that drift.
  for (uint32_t j = tid; j < n; j += threads) {
    MSVD_THREADGROUP C* aj = a + j * lda;
    C a_norm_squared = C(0);
    for (uint32_t r = 0; r < m; ++r) a_norm_squared += aj[r] * aj[r];
    C v_norm_squared = C(0);
    for (uint32_t r = 0; r < n; ++r) v_norm_squared += v[j * ldv + r] * v[j * ldv + r];
    const C a_norm = math_sqrt(a_norm_squared);
    const C v_norm = math_sqrt(v_norm_squared);
    const bool negligible_column = a_norm_squared <= negligible;
    sigma[j] = negligible_column ? C(0) : a_norm / v_norm;
    for (uint32_t r = 0; r < m; ++r) aj[r] = negligible_column ? C(0) : aj[r] / a_norm;
    for (uint32_t r = 0; r < n; ++r) v[j * ldv + r] /= v_norm;
  }
  group_barrier_with_device_memory();
  for (uint32_t j = tid; j < n; j += threads) {
    uint32_t rank = 0;
    for (uint32_t l = 0; l < n; ++l)
      if (sigma[l] > sigma[j] || (sigma[l] == sigma[j] && l < j)) ++rank;
    order[rank] = C(j);
  }
  group_barrier();

  // 5. Columns of zero norm sort last; give each a unit vector orthogonal to all before it.
  uint32_t zero_columns = 0;
  for (uint32_t l = 0; l < n; ++l)
    if (sigma[l] == C(0)) ++zero_columns;
  for (uint32_t t = n - zero_columns; t < n; ++t)
    complete_column<C>(a, lda, m, order, t, work, partials, threads, ctx);

  // 6. Write U, S, V in descending order of S.
  write_columns_in_order<T>(u_dst, p.u_row_stride, p.u_col_stride, a, lda, m, n, order, tid,
                            threads);
  write_columns_in_order<T>(v_dst, p.v_row_stride, p.v_col_stride, v, ldv, n, n, order, tid,
                            threads);
  for (uint32_t t = tid; t < n; t += threads)
    s_dst[t * p.s_stride] =
        from_compute<T>(math_ldexp(sigma[static_cast<uint32_t>(order[t])], exponent));
  if (tid == 0) info_out[ctx.group] = status;
}

// Entries. V lives in threadgroup memory when A and V fit there (the fastest), else in a device
// workspace of batch x cols x ldv elements (64 x 64 fp32 under Metal's 32 KiB). The thread
// count is the launch's (p.threads); backends compile the pairwise entries once per threadgroup
// size (for register allocation) and the warp-block entries once per kRows rows per lane
// (rows <= 32 * kRows).
template <typename T, typename C, typename Sweeps>
MSVD_INLINE void jacobi_small_in_threadgroup(MSVD_CONSTANT const JacobiSmallParams& p,
                                             MSVD_DEVICE const T* a_in, MSVD_DEVICE T* u_out,
                                             MSVD_DEVICE T* s_out, MSVD_DEVICE T* v_out,
                                             MSVD_DEVICE int32_t* info_out,
                                             MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const JacobiSmallLayout layout = jacobi_small_layout(p.rows, p.cols, true);
  jacobi_small_body<T, C, Sweeps, true>(p, a_in, u_out, s_out, v_out, info_out, scratch,
                                        scratch + layout.v, layout, ctx);
}

template <typename T, typename C, typename Sweeps>
MSVD_INLINE void jacobi_small_v_in_device(MSVD_CONSTANT const JacobiSmallParams& p,
                                          MSVD_DEVICE const T* a_in, MSVD_DEVICE T* u_out,
                                          MSVD_DEVICE T* s_out, MSVD_DEVICE T* v_out,
                                          MSVD_DEVICE int32_t* info_out, MSVD_DEVICE C* v_workspace,
                                          MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const JacobiSmallLayout layout = jacobi_small_layout(p.rows, p.cols, false);
  MSVD_DEVICE C* v = v_workspace + static_cast<int64_t>(ctx.group) * layout.ldv * p.cols;
  jacobi_small_body<T, C, Sweeps, false>(p, a_in, u_out, s_out, v_out, info_out, scratch, v, layout,
                                         ctx);
}

template <typename T, typename C>
MSVD_INLINE void jacobi_small(MSVD_CONSTANT const JacobiSmallParams& p, MSVD_DEVICE const T* a_in,
                              MSVD_DEVICE T* u_out, MSVD_DEVICE T* s_out, MSVD_DEVICE T* v_out,
                              MSVD_DEVICE int32_t* info_out, MSVD_THREADGROUP C* scratch,
                              ThreadContext ctx) {
  jacobi_small_in_threadgroup<T, C, PairwiseSweeps>(p, a_in, u_out, s_out, v_out, info_out, scratch,
                                                    ctx);
}

template <typename T, typename C>
MSVD_INLINE void jacobi_small_vdev(MSVD_CONSTANT const JacobiSmallParams& p,
                                   MSVD_DEVICE const T* a_in, MSVD_DEVICE T* u_out,
                                   MSVD_DEVICE T* s_out, MSVD_DEVICE T* v_out,
                                   MSVD_DEVICE int32_t* info_out, MSVD_DEVICE C* v_workspace,
                                   MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  jacobi_small_v_in_device<T, C, PairwiseSweeps>(p, a_in, u_out, s_out, v_out, info_out,
                                                 v_workspace, scratch, ctx);
}

template <typename T, typename C, uint32_t kRows>
MSVD_INLINE void jacobi_blocks(MSVD_CONSTANT const JacobiSmallParams& p, MSVD_DEVICE const T* a_in,
                               MSVD_DEVICE T* u_out, MSVD_DEVICE T* s_out, MSVD_DEVICE T* v_out,
                               MSVD_DEVICE int32_t* info_out, MSVD_THREADGROUP C* scratch,
                               ThreadContext ctx) {
  jacobi_small_in_threadgroup<T, C, WarpBlockSweeps<kRows> >(p, a_in, u_out, s_out, v_out, info_out,
                                                             scratch, ctx);
}

template <typename T, typename C, uint32_t kRows>
MSVD_INLINE void jacobi_blocks_vdev(MSVD_CONSTANT const JacobiSmallParams& p,
                                    MSVD_DEVICE const T* a_in, MSVD_DEVICE T* u_out,
                                    MSVD_DEVICE T* s_out, MSVD_DEVICE T* v_out,
                                    MSVD_DEVICE int32_t* info_out, MSVD_DEVICE C* v_workspace,
                                    MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  jacobi_small_v_in_device<T, C, WarpBlockSweeps<kRows> >(p, a_in, u_out, s_out, v_out, info_out,
                                                          v_workspace, scratch, ctx);
}

}  // namespace kernels
}  // namespace metalsvd
