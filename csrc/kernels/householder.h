// Blocked Householder QR, the pieces shared by its users: the backend's GEMM applies each
// panel's block reflector H = I - Y T Y^T (LAPACK xGEQRF with xLARFT's compact WY).
//   householder_reflector   a reflector from a column's head and the norm below it (xLARFG)
//   householder_triangle    T's strict upper triangle from S = Y^T Y (a GEMM) and tau, for
//                           reflectors that another kernel wrote (the bidiagonalisation's)
// The QR's own panels are factored by kernels/tsqr.h. Everything is column-major in device
// memory.
#pragma once

#include "dialect.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

// Widest panel: a SIMD group's lanes hold one reflector step's column dot products.
MSVD_CONSTANT constexpr uint32_t kHouseholderMaxPanel = 32;

struct HouseholderParams {
  int64_t t_batch_stride;  // w2: T of every panel, width x width each, then S of every panel
  uint32_t batch;
  uint32_t cols;
  uint32_t panel;     // first column k
  uint32_t width;     // columns a panel (<= kHouseholderMaxPanel)
  uint32_t t_offset;  // elements from a matrix's w2 to the first panel's T
  uint32_t s_offset;  // to S = Y^T Y of that panel (S of panel q at s_offset + q width^2)
  uint32_t threads;   // whole SIMD groups
  uint32_t panels;    // consecutive panels, a group each
};

// Where tau of reflector `col` of a factorisation with `cols` reflectors sits among the T
// factors (elements from a matrix's start): on the diagonal of its panel's T, which is width x
// width with leading dimension width (the last panel may be narrower).
MSVD_HOST_DEVICE uint32_t householder_tau_index(uint32_t col, uint32_t cols) {
  const uint32_t panel = col / kHouseholderMaxPanel;
  const uint32_t j = col % kHouseholderMaxPanel;
  const uint32_t rest = cols - panel * kHouseholderMaxPanel;
  const uint32_t width = rest < kHouseholderMaxPanel ? rest : kHouseholderMaxPanel;
  return panel * kHouseholderMaxPanel * kHouseholderMaxPanel + j * width + j;
}

// H = I - tau v v^T with v = (1, x_below * scale) maps x = (alpha, x_below) to beta e_1, given
// below = |x_below|^2; a column already zero below the diagonal needs no reflector (tau = 0),
// as in LAPACK's xLARFG.
template <typename C>
struct Reflector {
  C tau;
  C beta;
  C scale;
};
template <typename C>
MSVD_INLINE Reflector<C> householder_reflector(C alpha, C below) {
  Reflector<C> h;
  h.tau = C(0);
  h.beta = alpha;
  h.scale = C(0);
  if (below > C(0)) {
    const C norm = math_sqrt(alpha * alpha + below);
    h.beta = alpha >= C(0) ? -norm : norm;
    h.tau = (h.beta - alpha) / h.beta;
    h.scale = C(1) / (alpha - h.beta);
  }
  return h;
}

// T upper triangular with H_k .. H_{k+w-1} = I - Y T Y^T (forward, columnwise):
// T[0:j, j] = -tau_j T[0:j, 0:j] S[0:j, j], S = Y^T Y. A group per matrix and panel (p.panels
// consecutive panels from column p.panel, p.width columns each but the factorisation's last,
// which may be narrower), of any number of SIMD groups: the panels' T are independent, so the
// bidiagonalisation forms all of them in one launch. T's columns depend on each other one
// after the other, so T is worked on in threadgroup memory (householder_triangle_scratch
// elements) and written once at the end: in device memory every step would wait for the
// last's stores. Step j is a SIMD group a row i of T, a lane a term l, summed by shuffles:
// the sums' dependent adds are the chain's length, 31 steps of a few shuffles each, where a
// thread a row adding its terms in turn took 30 us for a 32-column T on the H200.
//
// In threadgroup memory T is row-major, so that a SIMD group reads a row of it at once; S is
// symmetric and only its strict upper triangle is read, which column-major (as the GEMM left
// it) is row-major's strict lower triangle: it is copied as it lies, below T, and S[l, j]
// (l < j) is element j w + l there, consecutive in l too.
MSVD_HOST_DEVICE uint32_t householder_triangle_scratch(uint32_t width) { return width * width; }

template <typename P, typename T, typename C>
MSVD_INLINE void householder_triangle(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C*,
                                      MSVD_DEVICE C*, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                                      MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                      ThreadContext ctx) {
  const uint32_t tid = ctx.thread_index;
  const uint32_t lane = ctx.lane;
  const uint32_t warps = p.threads / kSimdWidth;
  const uint32_t matrix = ctx.group / p.panels;
  const uint32_t q = ctx.group % p.panels;
  const uint32_t k = p.panel + q * p.width;
  const uint32_t w = p.cols - k < p.width ? p.cols - k : p.width;
  const uint32_t square = p.width * p.width;
  MSVD_DEVICE C* base = w2 + static_cast<int64_t>(matrix) * p.t_batch_stride;
  MSVD_DEVICE C* t = base + p.t_offset + q * square;
  MSVD_DEVICE const C* s = base + p.s_offset + q * square;
  MSVD_THREADGROUP C* ts = scratch;  // T row-major on and above the diagonal, S below
  // Element idx: row idx / w, column idx % w. tau on the diagonal (where the column-major T
  // of device memory has it too), zeros above, S below.
  for (uint32_t idx = tid; idx < w * w; idx += p.threads) {
    const uint32_t row = idx / w;
    const uint32_t col = idx % w;
    ts[idx] = col < row ? s[idx] : (col == row ? t[idx] : C(0));
  }
  group_barrier();
  for (uint32_t j = 1; j < w; ++j) {
    // Row i < j: T[i, j] = -tau_j sum_{l = i}^{j - 1} T[i, l] S[l, j] (T upper triangular).
    for (uint32_t i = ctx.simd_group; i < j; i += warps) {
      C term = C(0);
      for (uint32_t l = i + lane; l < j; l += kSimdWidth) term += ts[i * w + l] * ts[j * w + l];
      const C sum = simd_reduce_sum(term);
      if (lane == 0) ts[i * w + j] = -ts[j * w + j] * sum;
    }
    group_barrier();
  }
  // Back column-major, zeros below the diagonal.
  for (uint32_t idx = tid; idx < w * w; idx += p.threads) {
    const uint32_t row = idx % w;
    const uint32_t col = idx / w;
    t[idx] = row <= col ? ts[row * w + col] : C(0);
  }
}

}  // namespace kernels
}  // namespace metalsvd
