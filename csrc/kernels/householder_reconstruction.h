// Householder reflectors from an explicit orthonormal Q (Ballard, Demmel, Grigori, Jacquelin,
// Knight and Nguyen, "Reconstructing Householder vectors from tall-skinny QR", 2015), the pieces
// shared by the panels that end with one (kernels/tsqr.h, kernels/cholesky_qr.h): the LU
// factorisation Q - S = Y U with S = diag(+-1) chosen so that every pivot has magnitude >= 1
// gives the reflectors Y of the panel's Householder QR, its T = -U S Y1^-T (Y1: Y's first width
// rows) and R = S R_q where A = Q R_q.
#pragma once

#include "dialect.h"

namespace metalsvd {
namespace kernels {

// Right-looking LU of Q's first w rows in x (w x w, leading dimension ld, threadgroup memory)
// in place: Y1's strict lower triangle and U, the signs into `signs`. Step i: every thread reads
// the pivot, the trailing block is updated with multipliers formed on the fly, and column i is
// scaled only after the barrier (no later step reads it before its own barrier), so a step is
// one barrier. The sign makes |pivot| = |q_ii| + 1 >= 1: no pivoting is needed. Ends with a
// barrier.
template <typename C>
MSVD_INLINE void signed_lu(MSVD_THREADGROUP C* x, uint32_t ld, MSVD_THREADGROUP C* signs,
                           uint32_t w, uint32_t threads, uint32_t tid) {
  for (uint32_t i = 0; i < w; ++i) {
    const C pivot = x[i + i * ld];
    const C s = pivot >= C(0) ? C(-1) : C(1);
    const C u_ii = pivot - s;
    for (uint32_t idx = tid; idx < w * w; idx += threads) {
      const uint32_t r = idx % w;
      const uint32_t c = idx / w;
      if (r > i && c > i) x[r + c * ld] -= x[r + i * ld] / u_ii * x[i + c * ld];
    }
    group_barrier();
    if (tid < w) {
      if (tid > i) x[tid + i * ld] /= u_ii;
      if (tid == i) {
        x[i + i * ld] = u_ii;
        signs[i] = s;
      }
    }
  }
  group_barrier();
}

// Row i of T = -U S Y1^-T into t_out (leading dimension w), from signed_lu's x and signs, by one
// thread: T Y1^T = M (M = -U S, upper triangular) is forward substitution along the row, Y1 unit
// lower triangular, the row held in registers.
template <typename C, uint32_t kMaxWidth>
MSVD_INLINE void reconstructed_t_row(MSVD_THREADGROUP const C* x, uint32_t ld,
                                     MSVD_THREADGROUP const C* signs, uint32_t w, uint32_t i,
                                     MSVD_DEVICE C* t_out) {
  C row[kMaxWidth];
  MSVD_UNROLL
  for (uint32_t c = 0; c < kMaxWidth; ++c) {
    C value = C(0);
    if (i < w && c < w && c >= i) {
      value = -x[i + c * ld] * signs[c];
      MSVD_UNROLL
      for (uint32_t q = 0; q < kMaxWidth; ++q)
        if (q >= i && q < c) value -= x[c + q * ld] * row[q];
    }
    row[c] = value;
    if (i < w && c < w) t_out[i + c * w] = value;
  }
}

}  // namespace kernels
}  // namespace metalsvd
