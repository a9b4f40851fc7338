// One root of the secular equation of a divide-and-conquer merge (bidiagonal_dc.h), found by
// the 32 lanes of one SIMD group together: each lane sums every 32nd term.
//
// The merged matrix is M = [z; 0 diag(d_1 .. d_{K-1})] with 0 = d_0 < d_1 < ... < d_{K-1} and
// no z_i zero (after deflation). Its singular values are the roots of
//   f(sigma) = 1 + sum_i z_i^2 / (d_i^2 - sigma^2),
// one in each (d_j, d_{j+1}) and the last in (d_{K-1}, sqrt(d_{K-1}^2 + |z|^2)]. As in LAPACK's
// xLASD4 a root is kept relative to the nearer end of its interval, the origin d_o:
// mu = sigma^2 - d_o^2, so that every difference d_i^2 - sigma^2 = (d_i - d_o)(d_i + d_o) - mu
// the vectors need keeps its relative accuracy, also for a root next to a pole. The iteration
// fits the two nearest poles of f with their value and slope (Li's "middle way", solved for the
// new mu itself rather than a step, so a root next to the origin comes out without
// cancellation), safeguarded by a bisection bracket.
#pragma once

#include "dialect.h"

namespace metalsvd {
namespace kernels {

// Most iterations for one root. The model converges in 3-8 on random merges (measured in a
// float32 and float64 model of this iteration), a bisection step halves the bracket: 64 is
// reached only when something is wrong, and the root is then flagged.
MSVD_CONSTANT constexpr uint32_t kMaxSecularIterations = 64;

template <typename C>
struct SecularRoot {
  C mu;             // sigma^2 - d_origin^2
  C sigma;          // the singular value
  uint32_t origin;  // j or j + 1 (the last root: K - 1)
  bool converged;
};

// d_i^2 - d_o^2 from a difference and a sum, so it is accurate when d_i and d_o are close.
template <typename C>
MSVD_INLINE C dc_square_difference(C di, C d_origin) {
  return (di - d_origin) * (di + d_origin);
}

// The two parts of f - 1 at mu (psi: the poles d_0 .. d_j, phi: the rest) and the weights of
// the two-pole model: b_lo = sum_{i <= j} z_i^2 (gap_lo / t_i)^2, b_hi likewise with gap_hi,
// t_i = d_i^2 - sigma^2. These are f's slopes times the squared distances to the interval's
// poles; written so they never overflow next to a pole (every ratio is at most 1).
template <typename C>
struct SecularSums {
  C psi, phi, b_lo, b_hi;
};

template <typename C>
MSVD_INLINE SecularSums<C> secular_sums(MSVD_DEVICE const C* dk, MSVD_DEVICE const C* zk,
                                        uint32_t count, uint32_t j, C d_origin, C mu, C gap_lo,
                                        C gap_hi, ThreadContext ctx) {
  SecularSums<C> s;
  s.psi = C(0);
  s.phi = C(0);
  s.b_lo = C(0);
  s.b_hi = C(0);
  for (uint32_t i = ctx.lane; i < count; i += kSimdWidth) {
    const C t = dc_square_difference(dk[i], d_origin) - mu;
    const C z2 = zk[i] * zk[i];
    const C term = z2 / t;
    if (i <= j) {
      const C ratio = gap_lo / t;
      s.psi += term;
      s.b_lo += z2 * ratio * ratio;
    } else {
      const C ratio = gap_hi / t;
      s.phi += term;
      s.b_hi += z2 * ratio * ratio;
    }
  }
  s.psi = simd_reduce_sum(s.psi);
  s.phi = simd_reduce_sum(s.phi);
  s.b_lo = simd_reduce_sum(s.b_lo);
  s.b_hi = simd_reduce_sum(s.b_hi);
  return s;
}

// f at mu relative to d_origin, every lane summing its share (the origin choice).
template <typename C>
MSVD_INLINE C secular_value(MSVD_DEVICE const C* dk, MSVD_DEVICE const C* zk, uint32_t count,
                            C d_origin, C mu, ThreadContext ctx) {
  C sum = C(0);
  for (uint32_t i = ctx.lane; i < count; i += kSimdWidth)
    sum += zk[i] * zk[i] / (dc_square_difference(dk[i], d_origin) - mu);
  return C(1) + simd_reduce_sum(sum);
}

// Root j (0-based, ascending) of the merge with `count` > 1 terms. Every lane of the SIMD group
// calls it with the same arguments and gets the same result.
template <typename C>
MSVD_INLINE SecularRoot<C> dc_secular_root(MSVD_DEVICE const C* dk, MSVD_DEVICE const C* zk,
                                           uint32_t count, uint32_t j, ThreadContext ctx) {
  const C eps = NumericLimits<C>::epsilon();
  const bool last = j + 1 == count;
  SecularRoot<C> root;
  C lo;
  C hi;
  if (last) {
    C z2 = C(0);
    for (uint32_t i = ctx.lane; i < count; i += kSimdWidth) z2 += zk[i] * zk[i];
    // sigma^2 <= d_{K-1}^2 + |z|^2; the margin keeps the bracket open there.
    root.origin = j;
    lo = C(0);
    hi = simd_reduce_sum(z2) * (C(1) + C(4) * eps);
  } else {
    // The root is in the lower half of (d_j^2, d_{j+1}^2) if f >= 0 at its middle.
    const C half = dc_square_difference(dk[j + 1], dk[j]) / C(2);
    const bool lower = secular_value(dk, zk, count, dk[j], half, ctx) >= C(0);
    root.origin = lower ? j : j + 1;
    lo = lower ? C(0) : -half;
    hi = lower ? half : C(0);
  }
  const C d_origin = dk[root.origin];
  // The poles bounding the root, relative to the origin: one of them is 0.
  const C pole_lo = dc_square_difference(dk[j], d_origin);
  const C pole_hi = last ? C(0) : dc_square_difference(dk[j + 1], d_origin);
  C mu = (lo + hi) / C(2);
  root.converged = false;
  for (uint32_t iteration = 0; iteration < kMaxSecularIterations; ++iteration) {
    const C gap_lo = pole_lo - mu;  // < 0
    const C gap_hi = last ? C(1) : pole_hi - mu;
    const SecularSums<C> s = secular_sums(dk, zk, count, j, d_origin, mu, gap_lo, gap_hi, ctx);
    const C f = C(1) + s.psi + s.phi;
    // f's rounding: the terms' (a few ulps each) and that of mu itself through the slopes.
    C slope_error = s.b_lo / math_abs(gap_lo) * math_abs(mu / gap_lo);
    if (!last) slope_error += s.b_hi / math_abs(gap_hi) * math_abs(mu / gap_hi);
    const C bound = eps * (C(8) * (C(1) + math_abs(s.psi) + math_abs(s.phi)) + C(3) * slope_error);
    if (math_abs(f) <= bound) {
      // One more model step from a point this close takes the error far below the bound.
      if (root.converged) break;
      root.converged = true;
    }
    if (f < C(0))
      lo = mu;
    else
      hi = mu;
    // psi ~ a_lo + b_lo / (pole_lo - nu), phi ~ a_hi + b_hi / (pole_hi - nu): solve
    // w + b_lo / (pole_lo - nu) + b_hi / (pole_hi - nu) = 0 for the new mu = nu.
    const C a_lo = s.psi - s.b_lo / gap_lo;
    C next = C(0);
    bool have_next = false;
    if (last) {
      const C w = C(1) + a_lo;
      if (w > C(0)) {
        next = pole_lo + s.b_lo / w;
        have_next = true;
      }
    } else {
      const C w = C(1) + a_lo + s.phi - s.b_hi / gap_hi;
      const C b = w * (pole_lo + pole_hi) + s.b_lo + s.b_hi;
      const C c = w * pole_lo * pole_hi + s.b_lo * pole_hi + s.b_hi * pole_lo;
      const C disc = b * b - C(4) * w * c;  // w nu^2 - b nu + c = 0
      if (disc >= C(0)) {
        const C root_disc = math_sqrt(disc);
        const C q = (b >= C(0) ? b + root_disc : b - root_disc) / C(2);
        // The model has one root between its poles; take the candidate that lies there.
        if (q != C(0)) {
          next = c / q;
          have_next = next > pole_lo && next < pole_hi;
        }
        if (!have_next && w != C(0)) {
          next = q / w;
          have_next = next > pole_lo && next < pole_hi;
        }
      }
    }
    if (!have_next || !(next > lo && next < hi)) {
      if (root.converged) break;  // keep the converged point rather than bisect away from it
      next = (lo + hi) / C(2);
    }
    const bool settled = math_abs(next - mu) <= C(2) * eps * math_abs(next);
    mu = next;
    if (settled || root.converged) {
      root.converged = true;
      break;
    }
  }
  root.mu = mu;
  // sigma = sqrt(d_o^2 + mu), written so a small mu keeps its digits.
  root.sigma = d_origin + mu / (d_origin + math_sqrt(d_origin * d_origin + mu));
  return root;
}

}  // namespace kernels
}  // namespace metalsvd
