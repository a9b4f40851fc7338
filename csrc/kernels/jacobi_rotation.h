// Plane rotations and orderings shared by the one-sided Jacobi sweeps.
#pragma once

#include "dialect.h"

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

// The barrier that ends a round of updates: V in device memory needs device-memory ordering.
template <bool kVInThreadgroup>
MSVD_INLINE void barrier_after_update() {
  if (kVInThreadgroup)
    group_barrier();
  else
    group_barrier_with_device_memory();
}

}  // namespace kernels
}  // namespace metalsvd
