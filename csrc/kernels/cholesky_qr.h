// One Householder panel (at most kTsqrMaxWidth columns) of a tall matrix by Cholesky QR2 with
// the Householder vectors reconstructed, tried before the TSQR (kernels/tsqr.h) because its
// dependent steps are a few launches, where the TSQR's tiles take one dependent step a column:
// A = Q1 R1 with R1 the Cholesky factor of A^T A and Q1 = A R1^-1 (each row solved against R1,
// which keeps A - Q1 R1 at rounding level whatever R1's condition), then the same again on Q1
// (Yamamoto, Nakatsukasa, Yanagisawa and Fukaya, "Roundoff error analysis of the CholeskyQR2
// algorithm", 2015): Q = Q1 R2^-1 is orthonormal to working precision and A = Q R2 R1 is
// backward stable wherever the Cholesky factorisations succeed, which in working precision needs
// cond(A) below about eps^-1/2. That condition is never assumed: the Gram matrix of the final
// Q is formed as well, and a panel whose Cholesky factorisation breaks down or whose Q is not
// orthonormal to kCholeskyQrOrthogonality raises its matrix's flag, so that the TSQR, launched
// after these kernels, factors it from the untouched panel (and skips every matrix whose flag is
// down). The Householder form comes from Q as in the TSQR (kernels/householder_reconstruction.h).
//   cholesky_qr_apply        a group a tile of rows: each row solved against the last R_k (the
//                            first pass copies the panel), into Y's place, and the tile's share
//                            of the result's Gram matrix
//   cholesky_qr_factor       a group a matrix: the Gram matrix, its Cholesky factor R_k for the
//                            next apply, R = R_k R; the flag raised on a breakdown
//   cholesky_qr_reconstruct  a group a matrix: Q's Gram matrix checked, then the LU of Q's first
//                            width rows with the signs, T, R (into the panel's first rows) and
//                            Y's first width rows
//   cholesky_qr_leaf_y       a group a tile of rows: the rest of Y = Q U^-1
// The panel itself is only written by cholesky_qr_reconstruct (R on and above the diagonal),
// after every check has passed; below R's diagonal the panel keeps its entries.
#pragma once

#include "dialect.h"
#include "group_reduce.h"
#include "householder_reconstruction.h"
#include "tsqr.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

// The most |Q^T Q - I| entry a Cholesky QR2 panel is kept with, in units of the compute type's
// epsilon: CholeskyQR2's Q is orthonormal to a small multiple of it, and the Gram matrix that
// checks it is itself rounded by some tens of units (sums over a thread's rows, then the tiles').
MSVD_CONSTANT constexpr float kCholeskyQrOrthogonality = 64.0f;

// Threads of cholesky_qr_apply and cholesky_qr_leaf_y for a compute type of `element_bytes`: a
// row each; the apply's tile of rows (one a thread, padded to a bank apart) and R^-1 stay within
// Metal's 32 KiB of threadgroup memory, and the Gram matrix's entries (kTsqrMaxWidth^2) are
// shared evenly by the threads.
MSVD_HOST_DEVICE constexpr uint32_t cholesky_qr_row_threads(uint32_t element_bytes) {
  return element_bytes > 4 ? 64u : 128u;
}
// Threads of cholesky_qr_factor and cholesky_qr_reconstruct: an entry of a w x w block each.
MSVD_CONSTANT constexpr uint32_t kCholeskyQrBlockThreads = kTsqrMaxWidth * kTsqrMaxWidth;

// Everything but the panel and Y lives in each matrix's w2 region, at these offsets (elements).
// Y holds Q on its way to the reflectors.
struct CholeskyQrParams : PanelLayout {
  uint32_t threads;
  uint32_t tiles;        // apply, leaf_y: tiles of rows a matrix
  uint32_t first_pass;   // 1: the apply copies the panel into Y's place (0: solves Y against R_k),
                         // the factor sets R = R_1 and the flag
  uint32_t gram_offset;  // the tiles' shares of the Gram matrix, width x width each
  uint32_t r_offset;     // R = R_k ... R_1, width x width, leading dimension width
  uint32_t factor_offset;    // R_k, the same layout, its diagonal inverted
  uint32_t u_offset;         // U, its diagonal inverted
  uint32_t t_offset;         // the panel's T, width x width, leading dimension width
  uint32_t fallback_offset;  // the flag: non-zero where the TSQR must factor the panel
};

// The scratch of a panel in a matrix's region from gram_offset, in elements: every tile's share
// of the Gram matrix.
MSVD_HOST_DEVICE uint32_t cholesky_qr_gram_elements(uint32_t tiles, uint32_t width) {
  return tiles * width * width;
}

// Threadgroup memory of cholesky_qr_apply (the tile of rows, R_k) and of cholesky_qr_leaf_y (U), in
// elements.
MSVD_HOST_DEVICE uint32_t cholesky_qr_apply_scratch_elements(uint32_t threads) {
  return (threads + 1) * kTsqrMaxWidth + kTsqrMaxWidth * kTsqrMaxWidth;
}
// Threadgroup memory of cholesky_qr_factor and cholesky_qr_reconstruct: two w x w blocks, the
// signs and the reduction's partials.
MSVD_HOST_DEVICE uint32_t cholesky_qr_block_scratch_elements() {
  return 2 * kTsqrMaxWidth * kTsqrMaxWidth + kTsqrMaxWidth + kSimdWidth;
}

template <typename P, typename C>
MSVD_INLINE MSVD_DEVICE C* cholesky_qr_region(MSVD_CONSTANT const P& p, MSVD_DEVICE C* w2,
                                              uint32_t matrix) {
  return w2 + static_cast<int64_t>(matrix) * p.region_batch_stride;
}

// A w x w upper triangle with its diagonal inverted (at `from` in the region, leading dimension
// w) into `tri` (kTsqrMaxWidth x kTsqrMaxWidth, the identity beyond w). No barrier.
template <typename C>
MSVD_INLINE void upper_triangle_load(MSVD_DEVICE const C* from, uint32_t w, MSVD_THREADGROUP C* tri,
                                     uint32_t threads, uint32_t tid) {
  constexpr uint32_t kW = kTsqrMaxWidth;
  for (uint32_t idx = tid; idx < kW * kW; idx += threads) {
    const uint32_t i = idx % kW;
    const uint32_t c = idx / kW;
    tri[idx] = i < w && c < w ? from[i + c * w] : (i == c ? C(1) : C(0));
  }
}

// x U = b for a row b (by value: registers), U upper triangular with its diagonal inverted
// (`tri`, kTsqrMaxWidth square): forward substitution along the row, each entry of x taking the
// ones before it.
template <typename C>
MSVD_INLINE TsqrRow<C> row_solve_upper(TsqrRow<C> b, MSVD_THREADGROUP const C* tri) {
  constexpr uint32_t kW = kTsqrMaxWidth;
  TsqrRow<C> x;
  MSVD_UNROLL
  for (uint32_t c = 0; c < kW; ++c) {
    C sum = b.x[c];
    MSVD_UNROLL
    for (uint32_t k = 0; k < c; ++k) sum -= x.x[k] * tri[k + c * kW];
    x.x[c] = sum * tri[c + c * kW];
  }
  return x;
}

// The Gram matrix of Q (or of the panel) into g (leading dimension w): the tiles' shares summed.
// Ends with a barrier.
template <typename P, typename C>
MSVD_INLINE void cholesky_qr_gram(MSVD_CONSTANT const P& p, MSVD_DEVICE const C* region,
                                  MSVD_THREADGROUP C* g, uint32_t tid) {
  const uint32_t w = p.width;
  for (uint32_t idx = tid; idx < w * w; idx += p.threads) {
    MSVD_DEVICE const C* share = region + p.gram_offset + idx;
    C sum = C(0);
    for (uint32_t t = 0; t < p.tiles; ++t) sum += share[t * w * w];
    g[idx] = sum;
  }
  group_barrier();
}

// Groups: batch x tiles, cholesky_qr_row_threads each. A thread a row of each chunk of the
// tile's rows: the panel's row (first pass) or Q's row solved against R_k, into Y's place and into
// threadgroup memory, whose rows' products then add to the thread's entries of the Gram matrix.
// Scratch: cholesky_qr_apply_scratch_elements.
template <typename P, typename T, typename C>
MSVD_INLINE void cholesky_qr_apply(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                   MSVD_DEVICE C* w1, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                                   MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                   ThreadContext ctx) {
  constexpr uint32_t kW = kTsqrMaxWidth;
  constexpr uint32_t kThreads = cholesky_qr_row_threads(sizeof(C));
  constexpr uint32_t kEntries = kW * kW / kThreads;  // a thread's entries of the Gram matrix
  constexpr uint32_t kLd = kThreads + 1;             // a column of the tile a bank apart
  const uint32_t matrix = ctx.group / p.tiles;
  const uint32_t t = ctx.group % p.tiles;
  const uint32_t tid = ctx.thread_index;
  const uint32_t w = p.width;
  MSVD_DEVICE C* region = cholesky_qr_region(p, w2, matrix);
  if (p.first_pass == 0 && region[p.fallback_offset] != C(0)) return;
  MSVD_THREADGROUP C* tile = scratch;  // kThreads x kW, leading dimension kLd
  MSVD_THREADGROUP C* factor = scratch + kLd * kW;
  if (p.first_pass == 0) upper_triangle_load(region + p.factor_offset, w, factor, kThreads, tid);
  C gram[kEntries];
  MSVD_UNROLL
  for (uint32_t e = 0; e < kEntries; ++e) gram[e] = C(0);
  MSVD_DEVICE const C* panel = w0 + static_cast<int64_t>(matrix) * p.a_batch_stride;
  MSVD_DEVICE C* y = w1 + static_cast<int64_t>(matrix) * p.y_batch_stride;
  const uint32_t first = tsqr_split(p.rows, p.tiles, t);
  const uint32_t last = tsqr_split(p.rows, p.tiles, t + 1);
  for (uint32_t base = first; base < last; base += kThreads) {
    const uint32_t r = base + tid;
    const bool active = r < last;
    TsqrRow<C> row;
    MSVD_UNROLL
    for (uint32_t c = 0; c < kW; ++c) {
      C value = C(0);
      if (active && c < w)
        value = p.first_pass != 0 ? panel[r * p.a_row_stride + c * p.a_col_stride]
                                  : y[r + static_cast<int64_t>(c) * p.y_ld];
      row.x[c] = value;
    }
    group_barrier();  // R_k loaded; the previous chunk's products taken
    if (p.first_pass == 0) row = row_solve_upper(row, factor);
    MSVD_UNROLL
    for (uint32_t c = 0; c < kW; ++c) {
      tile[tid + c * kLd] = row.x[c];
      if (active && c < w) y[r + static_cast<int64_t>(c) * p.y_ld] = row.x[c];
    }
    group_barrier();
    // Entry (i, j) = idx % kW, idx / kW: a SIMD group reads kW columns of one row, a bank each,
    // and one column's entry for all of them.
    MSVD_UNROLL
    for (uint32_t e = 0; e < kEntries; ++e) {
      const uint32_t idx = tid + e * kThreads;
      const uint32_t i = idx % kW;
      const uint32_t j = idx / kW;
      C sum = C(0);
      for (uint32_t q = 0; q < kThreads; ++q) sum += tile[q + i * kLd] * tile[q + j * kLd];
      gram[e] += sum;
    }
  }
  MSVD_DEVICE C* share = region + p.gram_offset + t * w * w;
  MSVD_UNROLL
  for (uint32_t e = 0; e < kEntries; ++e) {
    const uint32_t idx = tid + e * kThreads;
    const uint32_t i = idx % kW;
    const uint32_t j = idx / kW;
    if (i < w && j < w) share[i + j * w] = gram[e];
  }
}

// Groups: batch, up to kCholeskyQrBlockThreads each. The Cholesky factor R_k of the Gram matrix
// (upper triangular, G = R_k^T R_k; its diagonal inverted for the apply's solves) and R = R_k R.
// The flag goes up where a pivot is not a positive finite number; the first pass also puts it down
// elsewhere. Scratch: cholesky_qr_block_scratch_elements.
template <typename P, typename T, typename C>
MSVD_INLINE void cholesky_qr_factor(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C*,
                                    MSVD_DEVICE C*, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                                    MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                    ThreadContext ctx) {
  const uint32_t matrix = ctx.group;
  const uint32_t tid = ctx.thread_index;
  const uint32_t w = p.width;
  MSVD_DEVICE C* region = cholesky_qr_region(p, w2, matrix);
  if (p.first_pass == 0 && region[p.fallback_offset] != C(0)) return;
  MSVD_THREADGROUP C* g = scratch;              // G, then R_k (leading dimension w)
  MSVD_THREADGROUP C* r_old = scratch + w * w;  // R before this pass
  cholesky_qr_gram(p, region, g, tid);
  // Right-looking on G's upper triangle, one barrier a step: the trailing block takes row j's
  // unscaled entries over the pivot, and row j is scaled after the barrier (no later step reads
  // it). Every thread reads the same pivot, so all leave the loop together.
  bool broken = false;
  for (uint32_t j = 0; j < w; ++j) {
    const C pivot = g[j + j * w];
    if (!(pivot > C(0)) || !math_isfinite(pivot)) {
      broken = true;
      break;
    }
    const C over_pivot = C(1) / pivot;
    for (uint32_t idx = tid; idx < w * w; idx += p.threads) {
      const uint32_t r = idx % w;
      const uint32_t c = idx / w;
      if (r > j && c >= r) g[r + c * w] -= g[j + r * w] * over_pivot * g[j + c * w];
    }
    group_barrier();
    if (tid >= j && tid < w) {
      const C root = math_sqrt(pivot);
      g[j + tid * w] = tid == j ? root : g[j + tid * w] / root;
    }
  }
  if (broken) {
    if (tid == 0) region[p.fallback_offset] = C(1);
    return;
  }
  for (uint32_t idx = tid; idx < w * w; idx += p.threads)
    r_old[idx] = p.first_pass != 0 ? C(0) : region[p.r_offset + idx];
  group_barrier();
  for (uint32_t idx = tid; idx < w * w; idx += p.threads) {
    const uint32_t i = idx % w;
    const uint32_t c = idx / w;
    region[p.factor_offset + idx] = i < c ? g[idx] : (i == c ? C(1) / g[idx] : C(0));
    C value = C(0);
    if (p.first_pass != 0)
      value = i <= c ? g[idx] : C(0);
    else
      for (uint32_t k = i; k <= c; ++k) value += g[i + k * w] * r_old[k + c * w];
    region[p.r_offset + idx] = value;
  }
  if (tid == 0 && p.first_pass != 0) region[p.fallback_offset] = C(0);
}

// Groups: batch, kCholeskyQrBlockThreads each. Q^T Q checked (the flag goes up where an entry
// of Q^T Q - I exceeds kCholeskyQrOrthogonality epsilons, or is not finite); then the LU of Q's
// first w rows with the signs, T, R = S R into the panel's first rows, Y's first w rows, and U
// (its diagonal inverted) for cholesky_qr_leaf_y. Scratch: cholesky_qr_block_scratch_elements.
template <typename P, typename T, typename C>
MSVD_INLINE void cholesky_qr_reconstruct(MSVD_CONSTANT const P& p, MSVD_DEVICE T*,
                                         MSVD_DEVICE C* w0, MSVD_DEVICE C* w1, MSVD_DEVICE C* w2,
                                         MSVD_DEVICE int32_t*, MSVD_DEVICE int32_t*,
                                         MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const uint32_t matrix = ctx.group;
  const uint32_t tid = ctx.thread_index;
  const uint32_t w = p.width;
  MSVD_DEVICE C* region = cholesky_qr_region(p, w2, matrix);
  if (region[p.fallback_offset] != C(0)) return;
  MSVD_THREADGROUP C* g = scratch;
  MSVD_THREADGROUP C* x = scratch + w * w;
  MSVD_THREADGROUP C* signs = scratch + 2 * w * w;
  MSVD_THREADGROUP C* partials = signs + kTsqrMaxWidth;
  cholesky_qr_gram(p, region, g, tid);
  C worst = C(0);
  for (uint32_t idx = tid; idx < w * w; idx += p.threads) {
    const C error = math_abs(g[idx] - (idx % w == idx / w ? C(1) : C(0)));
    worst = math_isfinite(error) ? math_max(worst, error) : NumericLimits<C>::infinity();
  }
  worst = group_reduce_max(worst, partials, ctx, p.threads);
  if (!(worst <= C(kCholeskyQrOrthogonality) * NumericLimits<C>::epsilon())) {
    if (tid == 0) region[p.fallback_offset] = C(1);
    return;
  }
  MSVD_DEVICE C* y = w1 + static_cast<int64_t>(matrix) * p.y_batch_stride;
  for (uint32_t idx = tid; idx < w * w; idx += p.threads)
    x[idx] = y[idx % w + static_cast<int64_t>(idx / w) * p.y_ld];
  group_barrier();
  signed_lu(x, w, signs, w, p.threads, tid);
  if (tid < w) reconstructed_t_row<C, kTsqrMaxWidth>(x, w, signs, w, tid, region + p.t_offset);
  MSVD_DEVICE C* u_out = region + p.u_offset;
  MSVD_DEVICE C* panel = w0 + static_cast<int64_t>(matrix) * p.a_batch_stride;
  for (uint32_t idx = tid; idx < w * w; idx += p.threads) {
    const uint32_t r = idx % w;
    const uint32_t c = idx / w;
    u_out[idx] = r < c ? x[idx] : (r == c ? C(1) / x[idx] : C(0));
    if (r <= c)
      panel[r * p.a_row_stride + c * p.a_col_stride] = signs[r] * region[p.r_offset + idx];
    y[r + static_cast<int64_t>(c) * p.y_ld] = r > c ? x[idx] : (r == c ? C(1) : C(0));
  }
}

// Groups: batch x tiles, cholesky_qr_row_threads each: Y's rows below the first w, Q U^-1 (Q - S
// is zero there), a thread a row solved in registers. Scratch: cholesky_qr_apply_scratch_elements.
template <typename P, typename T, typename C>
MSVD_INLINE void cholesky_qr_leaf_y(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C*,
                                    MSVD_DEVICE C* w1, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                                    MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                    ThreadContext ctx) {
  constexpr uint32_t kW = kTsqrMaxWidth;
  const uint32_t matrix = ctx.group / p.tiles;
  const uint32_t t = ctx.group % p.tiles;
  const uint32_t tid = ctx.thread_index;
  const uint32_t w = p.width;
  MSVD_DEVICE C* region = cholesky_qr_region(p, w2, matrix);
  if (region[p.fallback_offset] != C(0)) return;
  MSVD_THREADGROUP C* u = scratch;  // kW x kW
  upper_triangle_load(region + p.u_offset, w, u, p.threads, tid);
  group_barrier();
  MSVD_DEVICE C* y = w1 + static_cast<int64_t>(matrix) * p.y_batch_stride;
  const uint32_t first = tsqr_split(p.rows, p.tiles, t);
  const uint32_t last = tsqr_split(p.rows, p.tiles, t + 1);
  for (uint32_t r = (first > w ? first : w) + tid; r < last; r += p.threads) {
    TsqrRow<C> row;
    MSVD_UNROLL
    for (uint32_t c = 0; c < kW; ++c)
      row.x[c] = c < w ? y[r + static_cast<int64_t>(c) * p.y_ld] : C(0);
    row = row_solve_upper(row, u);
    MSVD_UNROLL
    for (uint32_t c = 0; c < kW; ++c)
      if (c < w) y[r + static_cast<int64_t>(c) * p.y_ld] = row.x[c];
  }
}

}  // namespace kernels
}  // namespace metalsvd
