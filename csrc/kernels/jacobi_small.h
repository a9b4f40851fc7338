// Fused one-sided Jacobi SVD: one threadgroup factors one whole matrix held in threadgroup
// memory, all sweeps in one launch, convergence decided on the device.
//
// For a tall matrix A (rows >= cols) the kernel orthogonalises the columns of A by plane
// rotations applied from the right, accumulating them in V. At convergence A V = U S with the
// column norms as S. Column pairs are visited in a round-robin (circle-method) order, so each
// round updates cols/2 disjoint pairs in parallel, each by `threads_per_pair` lanes.
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
#include "jacobi_small_params.h"
#include "svd_status.h"

namespace metalsvd {
namespace kernels {

// Rotate while |a_i.a_j| > sqrt(rows) * eps * ||a_i|| ||a_j||: the rounding level of the dot
// products (LAPACK xGESVJ's CTOL). Below it a rotation only stirs rounding errors.
template <typename C>
MSVD_INLINE C jacobi_tolerance(uint32_t rows) {
  return math_sqrt(C(rows)) * NumericLimits<C>::epsilon();
}

// Squared column norms below sqrt(min_normal) are negligible: with max |a_ij| scaled into
// [0.5, 1) such a column is ~1e-10 of sigma_max in fp32 (1e-77 in fp64), far below working
// precision, and rotation angles computed from it would rest on underflowed products.
template <typename C>
MSVD_INLINE C negligible_norm_squared() {
  return math_sqrt(NumericLimits<C>::min_normal());
}

template <typename C>
struct Rotation {
  C c;
  C s;
};

// The plane rotation [c s; -s c] that makes columns with squared norms alpha, beta and dot
// product gamma (!= 0) orthogonal: t = tan(theta) is the smaller root of t^2 + 2 zeta t - 1 = 0,
// computed without forming zeta^2 when |zeta| is large.
template <typename C>
MSVD_INLINE Rotation<C> jacobi_rotation(C alpha, C beta, C gamma) {
  const C zeta = (beta - alpha) / (C(2) * gamma);
  const C abs_zeta = math_abs(zeta);
  const C inverse = C(1) / abs_zeta;
  const C denominator = abs_zeta > C(1) ? abs_zeta * (C(1) + math_sqrt(C(1) + inverse * inverse))
                                        : abs_zeta + math_sqrt(C(1) + abs_zeta * abs_zeta);
  const C t = (zeta >= C(0) ? C(1) : C(-1)) / denominator;
  Rotation<C> rot;
  rot.c = C(1) / math_sqrt(C(1) + t * t);
  rot.s = rot.c * t;
  return rot;
}

// Rows of a column pair each lane keeps in registers during a rotation; taller problems per
// lane read threadgroup memory twice instead.
MSVD_CONSTANT constexpr uint32_t kCachedRowsPerLane = 8;

struct ColumnPair {
  uint32_t i;
  uint32_t j;
};

// Pair k of round `round` in the circle method over n_even columns: column n_even-1 stays
// fixed and meets `round`; the others meet round +- k. Every pair occurs once in n_even-1 rounds.
MSVD_INLINE ColumnPair round_robin_pair(uint32_t n_even, uint32_t round, uint32_t k) {
  const uint32_t cycle = n_even - 1;
  ColumnPair pair;
  if (k == 0) {
    pair.i = round;
    pair.j = cycle;
  } else {
    pair.i = (round + k) % cycle;
    pair.j = (round + cycle - k) % cycle;
  }
  return pair;
}

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

template <typename T, typename C, uint32_t kThreads>
MSVD_INLINE void write_nan_outputs(MSVD_CONSTANT const JacobiSmallParams& p, MSVD_DEVICE T* u_dst,
                                   MSVD_DEVICE T* s_dst, MSVD_DEVICE T* v_dst, uint32_t tid) {
  const T nan = from_compute<T>(NumericLimits<C>::quiet_nan());
  const uint32_t m = p.rows;
  const uint32_t n = p.cols;
  for (uint32_t idx = tid; idx < m * n; idx += kThreads)
    u_dst[(idx / n) * p.u_row_stride + (idx % n) * p.u_col_stride] = nan;
  for (uint32_t idx = tid; idx < n * n; idx += kThreads)
    v_dst[(idx / n) * p.v_row_stride + (idx % n) * p.v_col_stride] = nan;
  for (uint32_t t = tid; t < n; t += kThreads) s_dst[t * p.s_stride] = nan;
}

// Replaces column order[t] of `a` (whose norm was negligible) by a unit vector orthogonal to
// the columns order[0..t). The row of least leverage in their span gives a start vector with
// at least (rows - t) / rows of its norm outside it, so two Gram-Schmidt passes are enough.
template <typename C, uint32_t kThreads>
MSVD_INLINE void complete_column(MSVD_THREADGROUP C* a, uint32_t lda, uint32_t rows,
                                 MSVD_THREADGROUP const C* order, uint32_t t,
                                 MSVD_THREADGROUP C* work, MSVD_THREADGROUP C* partials,
                                 ThreadContext ctx) {
  const uint32_t tid = ctx.thread_index;
  MSVD_THREADGROUP C* target = a + static_cast<uint32_t>(order[t]) * lda;
  for (uint32_t r = tid; r < rows; r += kThreads) {
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
  for (uint32_t r = tid; r < rows; r += kThreads) {
    C x = r == start_row ? C(1) : C(0);
    for (uint32_t s = 0; s < t; ++s) {
      MSVD_THREADGROUP const C* u = a + static_cast<uint32_t>(order[s]) * lda;
      x -= u[r] * u[start_row];
    }
    target[r] = x;
  }
  group_barrier();
  for (uint32_t s = tid; s < t; s += kThreads) {
    MSVD_THREADGROUP const C* u = a + static_cast<uint32_t>(order[s]) * lda;
    C dot = C(0);
    for (uint32_t r = 0; r < rows; ++r) dot += u[r] * target[r];
    work[s] = dot;
  }
  group_barrier();
  C local_norm_squared = C(0);
  for (uint32_t r = tid; r < rows; r += kThreads) {
    C x = target[r];
    for (uint32_t s = 0; s < t; ++s) x -= work[s] * a[static_cast<uint32_t>(order[s]) * lda + r];
    target[r] = x;
    local_norm_squared += x * x;
  }
  const C norm = math_sqrt(group_reduce_sum(local_norm_squared, partials, ctx, kThreads));
  for (uint32_t r = tid; r < rows; r += kThreads) target[r] /= norm;
  group_barrier();
}

template <typename T, typename C, uint32_t kThreads, bool kVInThreadgroup, typename VPointer>
MSVD_INLINE void jacobi_small_body(MSVD_CONSTANT const JacobiSmallParams& p,
                                   MSVD_DEVICE const T* a_in, MSVD_DEVICE T* u_out,
                                   MSVD_DEVICE T* s_out, MSVD_DEVICE T* v_out,
                                   MSVD_DEVICE int32_t* info_out, MSVD_THREADGROUP C* scratch,
                                   VPointer v, JacobiSmallLayout layout, ThreadContext ctx) {
  const uint32_t m = p.rows;
  const uint32_t n = p.cols;
  const uint32_t tid = ctx.thread_index;
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
  for (uint32_t idx = tid; idx < m * n; idx += kThreads) {
    const MatrixIndex at = matrix_index(idx, m, n, input_rows_contiguous);
    const C x = to_compute<C>(src[at.row * p.in_row_stride + at.col * p.in_col_stride]);
    a[at.col * lda + at.row] = x;
    local_max = math_isfinite(x) ? math_max(local_max, math_abs(x)) : NumericLimits<C>::infinity();
  }
  const C max_abs = group_reduce_max(local_max, partials, ctx, kThreads);
  if (!math_isfinite(max_abs)) {
    write_nan_outputs<T, C, kThreads>(p, u_dst, s_dst, v_dst, tid);
    if (tid == 0) info_out[ctx.group] = kSvdNonFiniteInput;
    return;
  }
  // 2. Scale exactly by 2^-exponent (each thread rescales the elements it loaded); V = I.
  const int exponent = max_abs > C(0) ? math_exponent(max_abs) : 0;
  for (uint32_t idx = tid; idx < m * n; idx += kThreads) {
    const MatrixIndex at = matrix_index(idx, m, n, input_rows_contiguous);
    a[at.col * lda + at.row] = math_ldexp(a[at.col * lda + at.row], -exponent);
  }
  for (uint32_t idx = tid; idx < n * n; idx += kThreads) {
    const uint32_t r = idx % n;
    const uint32_t c = idx / n;
    v[c * ldv + r] = r == c ? C(1) : C(0);
  }
  group_barrier_with_device_memory();

  // 3. Sweeps of round-robin rotations until no pair needs one.
  const uint32_t lanes = p.threads_per_pair;
  const uint32_t slots = kThreads / lanes;
  const uint32_t slot = tid / lanes;
  const uint32_t lane = tid % lanes;
  const uint32_t n_even = n + (n & 1u);
  const uint32_t pairs = n_even / 2;
  const C tol = jacobi_tolerance<C>(m);
  const C negligible = negligible_norm_squared<C>();
  const bool rows_cached = m <= lanes * kCachedRowsPerLane;
  int32_t status = kSvdNotConverged;
  for (uint32_t sweep = 0; sweep < p.max_sweeps; ++sweep) {
    if (tid == 0) *rotated_flag = C(0);
    group_barrier();
    for (uint32_t round = 0; round + 1 < n_even; ++round) {
      for (uint32_t first = 0; first < pairs; first += slots) {
        const ColumnPair pair = round_robin_pair(n_even, round, first + slot);
        const bool active = first + slot < pairs && pair.i < n && pair.j < n;
        MSVD_THREADGROUP C* ai = a + pair.i * lda;
        MSVD_THREADGROUP C* aj = a + pair.j * lda;
        // The lane's rows of both columns stay in registers from the dot products to the
        // update when they fit, which halves the threadgroup-memory reads of A.
        C xi[kCachedRowsPerLane];
        C xj[kCachedRowsPerLane];
        C alpha = C(0);
        C beta = C(0);
        C gamma = C(0);
        if (rows_cached) {
          MSVD_UNROLL
          for (uint32_t q = 0; q < kCachedRowsPerLane; ++q) {
            const uint32_t r = lane + q * lanes;
            const bool present = active && r < m;
            xi[q] = present ? ai[r] : C(0);
            xj[q] = present ? aj[r] : C(0);
            alpha += xi[q] * xi[q];
            beta += xj[q] * xj[q];
            gamma += xi[q] * xj[q];
          }
        } else if (active) {
          for (uint32_t r = lane; r < m; r += lanes) {
            const C x = ai[r];
            const C y = aj[r];
            alpha += x * x;
            beta += y * y;
            gamma += x * y;
          }
        }
        // Every lane of the SIMD group takes part in the shuffles, active or not.
        alpha = lane_group_sum(alpha, lanes);
        beta = lane_group_sum(beta, lanes);
        gamma = lane_group_sum(gamma, lanes);
        if (active && alpha > negligible && beta > negligible &&
            math_abs(gamma) > tol * math_sqrt(alpha) * math_sqrt(beta)) {
          const Rotation<C> rot = jacobi_rotation(alpha, beta, gamma);
          if (rows_cached) {
            MSVD_UNROLL
            for (uint32_t q = 0; q < kCachedRowsPerLane; ++q) {
              const uint32_t r = lane + q * lanes;
              if (r < m) {
                ai[r] = rot.c * xi[q] - rot.s * xj[q];
                aj[r] = rot.s * xi[q] + rot.c * xj[q];
              }
            }
          } else {
            for (uint32_t r = lane; r < m; r += lanes) {
              const C x = ai[r];
              const C y = aj[r];
              ai[r] = rot.c * x - rot.s * y;
              aj[r] = rot.s * x + rot.c * y;
            }
          }
          for (uint32_t r = lane; r < n; r += lanes) {
            const C x = v[pair.i * ldv + r];
            const C y = v[pair.j * ldv + r];
            v[pair.i * ldv + r] = rot.c * x - rot.s * y;
            v[pair.j * ldv + r] = rot.s * x + rot.c * y;
          }
          if (lane == 0) *rotated_flag = C(1);
        }
      }
      if (kVInThreadgroup)
        group_barrier();
      else
        group_barrier_with_device_memory();
    }
    const bool rotated = *rotated_flag != C(0);
    group_barrier();
    if (!rotated) {
      status = kSvdConverged;
      break;
    }
  }

  // 4. Singular values are the column norms of A V. Rounded rotations are exact rotations
  //    scaled by 1 + O(eps), which drifts the norms of V's columns (and equally A's) but not
  //    their orthogonality: dividing both by ||v_j|| removes that drift.
  for (uint32_t j = tid; j < n; j += kThreads) {
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
  for (uint32_t j = tid; j < n; j += kThreads) {
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
    complete_column<C, kThreads>(a, lda, m, order, t, work, partials, ctx);

  // 6. Write U, S, V in descending order of S.
  const bool u_rows_contiguous = p.u_row_stride == 1;
  for (uint32_t idx = tid; idx < m * n; idx += kThreads) {
    const MatrixIndex at = matrix_index(idx, m, n, u_rows_contiguous);
    const uint32_t col = static_cast<uint32_t>(order[at.col]);
    u_dst[at.row * p.u_row_stride + at.col * p.u_col_stride] =
        from_compute<T>(a[col * lda + at.row]);
  }
  const bool v_rows_contiguous = p.v_row_stride == 1;
  for (uint32_t idx = tid; idx < n * n; idx += kThreads) {
    const MatrixIndex at = matrix_index(idx, n, n, v_rows_contiguous);
    const uint32_t col = static_cast<uint32_t>(order[at.col]);
    v_dst[at.row * p.v_row_stride + at.col * p.v_col_stride] =
        from_compute<T>(v[col * ldv + at.row]);
  }
  for (uint32_t t = tid; t < n; t += kThreads)
    s_dst[t * p.s_stride] =
        from_compute<T>(math_ldexp(sigma[static_cast<uint32_t>(order[t])], exponent));
  if (tid == 0) info_out[ctx.group] = status;
}

// Entry with V in threadgroup memory (the fastest; needs room for rows x cols + cols x cols).
template <typename T, typename C, uint32_t kThreads>
MSVD_INLINE void jacobi_small(MSVD_CONSTANT const JacobiSmallParams& p, MSVD_DEVICE const T* a_in,
                              MSVD_DEVICE T* u_out, MSVD_DEVICE T* s_out, MSVD_DEVICE T* v_out,
                              MSVD_DEVICE int32_t* info_out, MSVD_THREADGROUP C* scratch,
                              ThreadContext ctx) {
  const JacobiSmallLayout layout = jacobi_small_layout(p.rows, p.cols, true);
  jacobi_small_body<T, C, kThreads, true>(p, a_in, u_out, s_out, v_out, info_out, scratch,
                                          scratch + layout.v, layout, ctx);
}

// Entry with V in a device workspace of batch x cols x ldv elements, for matrices whose
// A alone fits in threadgroup memory (64 x 64 fp32 under Metal's 32 KiB).
template <typename T, typename C, uint32_t kThreads>
MSVD_INLINE void jacobi_small_vdev(MSVD_CONSTANT const JacobiSmallParams& p,
                                   MSVD_DEVICE const T* a_in, MSVD_DEVICE T* u_out,
                                   MSVD_DEVICE T* s_out, MSVD_DEVICE T* v_out,
                                   MSVD_DEVICE int32_t* info_out, MSVD_DEVICE C* v_workspace,
                                   MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const JacobiSmallLayout layout = jacobi_small_layout(p.rows, p.cols, false);
  MSVD_DEVICE C* v = v_workspace + static_cast<int64_t>(ctx.group) * layout.ldv * p.cols;
  jacobi_small_body<T, C, kThreads, false>(p, a_in, u_out, s_out, v_out, info_out, scratch, v,
                                           layout, ctx);
}

}  // namespace kernels
}  // namespace metalsvd
