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
// A segment of p.points lanes of a SIMD group finds one value: each lane counts at its own
// point of the bracket, so a round narrows it points + 1 times. More points a value mean fewer
// rounds, fewer mean less work a bit found: the host takes fewer as n grows and the values fill
// the device anyway (bidiagonal_values_points). Groups: batch x groups_per_matrix, each
// threads / kSimdWidth * (kSimdWidth / points) consecutive values of one matrix (descending).
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
  uint32_t points;  // lanes a value: 4, 8, 16 or 32
};

MSVD_CONSTANT constexpr uint32_t kValuesMinPoints = 4;

// Points a value for n values a matrix: 32 up to 1024 values, then fewer, so that a matrix still
// keeps about 32K lanes counting. On the H200 a count is bound by its dependent divisions while
// few lanes run and by instruction issue once many do; 32 points a value find 0.16 bits a count,
// 8 points 0.4.
MSVD_HOST_DEVICE uint32_t bidiagonal_values_points(uint32_t n) {
  uint32_t points = kSimdWidth;
  while (points > kValuesMinPoints && uint64_t{n} * points > (uint64_t{1} << 15)) points /= 2;
  return points;
}

// Rounds that narrow a bracket of width g to g eps^2 (the smallest it is taken to) with `points`
// points a round, with two to spare: 2 * mantissa_bits / log2(points + 1) rounded up, plus 2.
MSVD_HOST_DEVICE uint32_t bidiagonal_values_rounds(uint32_t mantissa_bits, uint32_t points) {
  // 1000 log2(points + 1), rounded down, for the powers of two points can be.
  const uint32_t bits = points >= 32 ? 5044 : points >= 16 ? 4087 : points >= 8 ? 3169 : 2321;
  return (2 * mantissa_bits * 1000 + bits - 1) / bits + 2;
}

// #{sigma_i < x} for 0 < x <= 1 and |d|, |e| <= 1 (the kernel scales B so): the negative pivots
// of TGK - x I, less n. Two rows of TGK a step, for one division instead of two: after row 2i+1's
// pivot q, row 2i+2's is q_a = -(x q + d_i^2) / q = -t / q (negative where t and q share their
// sign) and row 2i+3's q_b = -x - e_i^2 / q_a = -x + e_i^2 (q / t). A pivot below pivmin in
// magnitude is taken as -pivmin (as xSTEBZ does; for q_a by t = pivmin q), so no division is by
// zero; with the entries at most 1, |q| stays below 2 / pivmin, so nothing overflows.
template <typename C>
MSVD_INLINE int32_t sigma_count_below(MSVD_DEVICE const C* d, MSVD_DEVICE const C* e, uint32_t n,
                                      C scale, C x, C pivmin) {
  C q = -x;
  if (math_abs(q) < pivmin) q = -pivmin;
  int32_t negative = 1;  // q < 0
  for (uint32_t i = 0;; ++i) {
    const C di = d[i] * scale;
    C t = math_fma(x, q, di * di);
    if (math_abs(t) < pivmin * math_abs(q)) t = pivmin * q;
    negative += (t < C(0)) == (q < C(0)) ? 1 : 0;  // q_a < 0
    if (i + 1 == n) break;
    const C ei = e[i] * scale;
    q = math_fma(ei * ei, q / t, -x);
    if (math_abs(q) < pivmin) q = -pivmin;
    negative += q < C(0) ? 1 : 0;
  }
  return negative - static_cast<int32_t>(n);
}

// The largest of x over the `points` lanes of this lane's segment (every lane gets it).
template <typename C>
MSVD_INLINE C segment_max(C x, uint32_t points) {
  for (uint32_t mask = 1; mask < points; mask <<= 1) x = math_max(x, shuffle_xor(x, mask));
  return x;
}

// w0: d and e of each matrix; w1: sigma, descending. No threadgroup memory, no barriers: the
// SIMD groups are independent.
template <typename P, typename T, typename C>
MSVD_INLINE void bidiagonal_values(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                   MSVD_DEVICE C* w1, MSVD_DEVICE C*, MSVD_DEVICE int32_t*,
                                   MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t points = p.points;
  const uint32_t per_simd = kSimdWidth / points;  // values a SIMD group
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  const uint32_t first =
      ((ctx.group % p.groups_per_matrix) * (p.threads / kSimdWidth) + ctx.simd_group) * per_simd;
  if (matrix >= p.batch || first >= p.n) return;  // the whole SIMD group
  const uint32_t value = first + ctx.lane / points;
  const uint32_t point = ctx.lane % points;
  const bool active = value < p.n;  // the segment; idle ones still join the shuffles
  const uint32_t n = p.n;
  MSVD_DEVICE const C* d = w0 + static_cast<int64_t>(matrix) * p.de_batch_stride;
  MSVD_DEVICE const C* e = d + p.e_offset;

  // Gershgorin on TGK: every |eigenvalue| is at most a row's |b_{k-1}| + |b_k|.
  C bound = C(0);
  for (uint32_t i = ctx.lane; i < n; i += kSimdWidth) {
    const C di = math_abs(d[i]);
    const C after = i + 1 < n ? math_abs(e[i]) : C(0);
    const C before = i > 0 ? math_abs(e[i - 1]) : C(0);
    bound = math_max(bound, math_max(di + after, di + before));
  }
  bound = simd_reduce_max(bound);

  C sigma = C(0);  // a zero matrix's values are exactly zero
  if (bound > C(0)) {
    // B scaled by a power of two (exactly) so that the bound is in [1/2, 1): every entry and
    // every point is then at most 1, as sigma_count_below needs.
    const int exponent = math_exponent(bound);
    const C scale = math_ldexp(C(1), -exponent);
    const C eps = NumericLimits<C>::epsilon();
    // A pivot below pivmin is taken as -pivmin: a shift of that row by at most 2 pivmin, which
    // moves a value by no more. So large a pivmin (the square root of the smallest normal) is
    // far below the values' floor and keeps pivmin * |q| normal where denormals are flushed.
    const C pivmin = C(4) * math_sqrt(NumericLimits<C>::min_normal());
    const C tiny = eps * eps;  // values below it (scaled) come out to it in absolute terms
    const int32_t target = static_cast<int32_t>(n - 1 - (active ? value : 0u));
    const uint32_t rounds =
        bidiagonal_values_rounds(sizeof(C) == sizeof(float) ? 23u : 52u, points);
    // count(lo) <= target < count(hi) throughout: hi is above every value (the bound, rounded
    // up), lo = 0 below them all.
    C lo = C(0);
    C hi = math_ldexp(bound, -exponent) * (C(1) + C(4) * eps) + pivmin;
    for (uint32_t round = 0; round < rounds; ++round) {
      const C width = hi - lo;
      const bool done = !active || width <= math_max(C(2) * eps * hi, tiny);
      // Every segment of the SIMD group takes part in the shuffles until all are done.
      if (simd_reduce_max(done ? C(0) : C(1)) == C(0)) break;
      const C x = lo + width * C(point + 1) / C(points + 1);
      const bool below = done || sigma_count_below(d, e, n, scale, x, pivmin) <= target;
      // The highest point still below the value and the lowest above it (the counts rise with
      // x, so these are neighbours); every lane of the segment gets the same two.
      const C new_lo = segment_max(below ? x : lo, points);
      const C new_hi = -segment_max(below ? -hi : -x, points);
      if (!done) {
        lo = new_lo;
        hi = new_hi;
      }
    }
    sigma = math_ldexp((lo + hi) / C(2), exponent);
  }
  if (active && point == 0) w1[static_cast<int64_t>(matrix) * p.sigma_batch_stride + value] = sigma;
}

}  // namespace kernels
}  // namespace metalsvd
