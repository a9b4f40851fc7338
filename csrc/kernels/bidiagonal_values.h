// The singular values alone of a batch of upper bidiagonal matrices B (d, e), by multisection
// of Sturm counts: what the SVD takes when no vectors are asked for (torch.linalg.svdvals),
// in place of the divide and conquer, whose merges need the vectors.
//
// sigma is an eigenvalue of the Golub-Kahan matrix TGK = [0 d0; d0 0 e0; e0 0 d1; ...] (order
// 2n, zero diagonal, off-diagonals d0, e0, d1, .., d_{n-1}), whose eigenvalues are +-sigma_i.
// For x > 0 the count of negative pivots of TGK - x I (the Sturm count) is n + #{sigma_i < x}.
// The recurrence is backward stable with relative perturbations of d and e, so each value comes
// out to high relative accuracy (Demmel and Kahan; LAPACK's xBDSVDX counts on the same matrix),
// and every value is found on its own: no deflation, no ordering step, no iteration to converge
// beyond the bracket's.
//
// A SIMD group finds one value: each lane counts at its own point of the bracket, so a round
// narrows it 33 times (5 bits) instead of bisection's 2 (1 bit). Groups: batch x
// groups_per_matrix, threads / kSimdWidth values each, value i of matrix b (descending) by
// SIMD group i % values of group i / values.
#pragma once

#include "dialect.h"

namespace metalsvd {
namespace kernels {

struct BidiagonalValuesParams {
  int64_t de_batch_stride;     // w0: elements between the matrices' d
  int64_t sigma_batch_stride;  // w1: elements between the matrices' sigma
  uint32_t batch;
  uint32_t n;
  uint32_t e_offset;  // elements from a matrix's d to its e (n - 1 of them)
  uint32_t groups_per_matrix;
  uint32_t threads;
};

// Points of a round: a lane each.
MSVD_CONSTANT constexpr uint32_t kValuesPoints = kSimdWidth;

// Rounds that narrow a bracket of width g to g eps^2 (the smallest it is taken to), with two to
// spare: 2 * mantissa_bits / log2(kValuesPoints + 1) rounded up, plus 2.
MSVD_HOST_DEVICE uint32_t bidiagonal_values_rounds(uint32_t mantissa_bits) {
  return (2 * mantissa_bits * 1000 + 5043) / 5044 + 2;  // log2(33) = 5.044
}

// #{sigma_i < x} for x > 0: the negative pivots of TGK - x I less n. A pivot below pivmin in
// magnitude is taken as -pivmin (as xSTEBZ does), so no division is by zero.
template <typename C>
MSVD_INLINE int32_t sigma_count_below(MSVD_DEVICE const C* d, MSVD_DEVICE const C* e, uint32_t n,
                                      C x, C pivmin) {
  int32_t negative = 0;
  C q = -x;
  if (math_abs(q) < pivmin) q = -pivmin;
  negative += q < C(0) ? 1 : 0;
  for (uint32_t i = 0; i < n; ++i) {
    const C di = d[i];
    q = -x - di * di / q;
    if (math_abs(q) < pivmin) q = -pivmin;
    negative += q < C(0) ? 1 : 0;
    if (i + 1 == n) break;
    const C ei = e[i];
    q = -x - ei * ei / q;
    if (math_abs(q) < pivmin) q = -pivmin;
    negative += q < C(0) ? 1 : 0;
  }
  return negative - static_cast<int32_t>(n);
}

// w0: d and e of each matrix; w1: sigma, descending. No threadgroup memory, no barriers: the
// SIMD groups are independent.
template <typename P, typename T, typename C>
MSVD_INLINE void bidiagonal_values(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                   MSVD_DEVICE C* w1, MSVD_DEVICE C*, MSVD_DEVICE int32_t*,
                                   MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t values = p.threads / kSimdWidth;
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  const uint32_t value = (ctx.group % p.groups_per_matrix) * values + ctx.simd_group;
  if (matrix >= p.batch || value >= p.n) return;  // the whole SIMD group
  const uint32_t n = p.n;
  MSVD_DEVICE const C* d = w0 + static_cast<int64_t>(matrix) * p.de_batch_stride;
  MSVD_DEVICE const C* e = d + p.e_offset;

  // Gershgorin on TGK: every |eigenvalue| is at most a row's |b_{k-1}| + |b_k|.
  C bound = C(0);
  C largest = C(0);
  for (uint32_t i = ctx.lane; i < n; i += kSimdWidth) {
    const C di = math_abs(d[i]);
    const C after = i + 1 < n ? math_abs(e[i]) : C(0);
    const C before = i > 0 ? math_abs(e[i - 1]) : C(0);
    bound = math_max(bound, math_max(di + after, di + before));
    largest = math_max(largest, math_max(di, after));
  }
  bound = simd_reduce_max(bound);
  largest = simd_reduce_max(largest);

  const C eps = NumericLimits<C>::epsilon();
  C sigma = C(0);  // a zero matrix's values are exactly zero
  if (bound > C(0)) {
    const C pivmin = NumericLimits<C>::min_normal() * math_max(C(1), largest * largest);
    const C tiny = bound * eps * eps;  // values below it come out to it in absolute terms
    const int32_t target = static_cast<int32_t>(n - 1 - value);  // its ascending index
    const uint32_t rounds = bidiagonal_values_rounds(sizeof(C) == sizeof(float) ? 23u : 52u);
    // count(lo) <= target < count(hi) throughout: hi is above every value (the bound, rounded
    // up), lo = 0 below them all.
    C lo = C(0);
    C hi = bound * (C(1) + C(4) * eps) + pivmin;
    for (uint32_t round = 0; round < rounds; ++round) {
      const C width = hi - lo;
      if (width <= math_max(C(2) * eps * hi, tiny)) break;
      const C x = lo + width * C(ctx.lane + 1) / C(kValuesPoints + 1);
      const bool below = sigma_count_below(d, e, n, x, pivmin) <= target;
      // The highest point still below the value and the lowest above it (the counts rise with
      // x, so these are neighbours); every lane gets the same two.
      const C new_lo = simd_reduce_max(below ? x : lo);
      const C new_hi = -simd_reduce_max(below ? -hi : -x);
      lo = new_lo;
      hi = new_hi;
    }
    sigma = (lo + hi) / C(2);
  }
  if (ctx.lane == 0) w1[static_cast<int64_t>(matrix) * p.sigma_batch_stride + value] = sigma;
}

}  // namespace kernels
}  // namespace metalsvd
