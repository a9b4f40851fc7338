// Blocked Householder QR, the panel half: the backend's GEMM applies each panel's block
// reflector H = I - Y T Y^T to the trailing columns (LAPACK xGEQRF with xLARFT's compact WY).
//   householder_panel       factors columns [k, k + width) of A in place, writes the explicit
//                           reflectors Y (unit diagonal, zeros above) and tau on T's diagonal;
//                           one group per matrix, for matrices of few rows
//   householder_column_start, householder_column
//                           the same panel for tall matrices, spread over groups_per_matrix
//                           groups of rows_per_group rows each: one launch per reflector (the
//                           launch boundary is the grid-wide barrier a reflector needs between
//                           its norm and its application), each launch applying reflector j
//                           and summing the column dots of reflector j + 1 over its own rows
//   householder_triangle    T's strict upper triangle from S = Y^T Y (a GEMM) and tau
// Everything is column-major in device memory.
#pragma once

#include "dialect.h"
#include "group_reduce.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

// Widest panel: the column dot products of one reflector step are kept in registers.
MSVD_CONSTANT constexpr uint32_t kHouseholderMaxPanel = 32;
// householder_column: the groups' sums each thread loads at once.
MSVD_CONSTANT constexpr uint32_t kHouseholderSumsInFlight = 4;

struct HouseholderParams {
  int64_t a_batch_stride;  // w0: A, rows x cols, leading dimension lda
  int64_t y_batch_stride;  // w1: Y, rows x cols (panel k in columns k .. k + width), ld lda
  int64_t t_batch_stride;  // w2: T of every panel, width x width each, then S of every panel
  uint32_t batch;
  uint32_t rows;
  uint32_t cols;
  uint32_t lda;
  uint32_t panel;              // first column k
  uint32_t width;              // columns in this panel (<= kHouseholderMaxPanel)
  uint32_t t_offset;           // elements from a matrix's w2 to this panel's T
  uint32_t s_offset;           // to S = Y^T Y of this panel (S of panel q at s_offset + q width^2)
  uint32_t threads;            // a multiple of kHouseholderMaxPanel
  uint32_t groups_per_matrix;  // householder_column*: groups sharing a matrix's rows
  uint32_t rows_per_group;     // a multiple of kSimdWidth
  uint32_t step;               // householder_column: the reflector j of the panel it applies
  uint32_t sums_offset;        // elements from a matrix's w2 to its reflector sums (below)
  uint32_t panels;             // householder_triangle: consecutive panels, a group each
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

// The reflector sums of the multi-group panel, per matrix in w2 at sums_offset, two copies
// (reflector j reads copy j % 2 while it writes reflector j + 1's into the other):
//   partials  groups_per_matrix x kHouseholderMaxPanel: group g's sums over its rows r > k + j
//             of A[r, k + j] * A[r, k + c], c in [j, width) (c = j: the norm below the diagonal)
//   head      kHouseholderMaxPanel: row k + j of the panel, A[k + j, k + c]
MSVD_INLINE uint32_t householder_sums_copy_size(uint32_t groups_per_matrix) {
  return (groups_per_matrix + 1) * kHouseholderMaxPanel;
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

// Scratch: (threads / kSimdWidth) x kHouseholderMaxPanel partial dots (at least kSimdWidth
// entries), then kHouseholderMaxPanel results.
template <typename P, typename T, typename C>
MSVD_INLINE void householder_panel(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                   MSVD_DEVICE C* w1, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                                   MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                   ThreadContext ctx) {
  const uint32_t matrix = ctx.group;
  const uint32_t tid = ctx.thread_index;
  MSVD_DEVICE C* a = w0 + static_cast<int64_t>(matrix) * p.a_batch_stride;
  MSVD_DEVICE C* y = w1 + static_cast<int64_t>(matrix) * p.y_batch_stride;
  MSVD_DEVICE C* t_panel = w2 + static_cast<int64_t>(matrix) * p.t_batch_stride + p.t_offset;
  const uint32_t simd_groups = p.threads / kSimdWidth;
  MSVD_THREADGROUP C* partials = scratch;
  MSVD_THREADGROUP C* dots = scratch + simd_groups * kHouseholderMaxPanel;

  for (uint32_t j = 0; j < p.width; ++j) {
    const uint32_t col = p.panel + j;
    MSVD_DEVICE C* x = a + col * p.lda;
    C below = C(0);
    for (uint32_t r = col + 1 + tid; r < p.rows; r += p.threads) below += x[r] * x[r];
    below = group_reduce_sum(below, partials, ctx, p.threads);
    const Reflector<C> h = householder_reflector(x[col], below);
    MSVD_DEVICE C* yj = y + col * p.lda;
    for (uint32_t r = tid; r < p.rows; r += p.threads) {
      C v = C(0);
      if (r == col)
        v = C(1);
      else if (r > col)
        v = x[r] * h.scale;
      yj[r] = v;
      if (r > col) x[r] = v;
    }
    group_barrier_with_device_memory();
    // Only now: every thread has read alpha.
    if (tid == 0) {
      x[col] = h.beta;
      t_panel[j * p.width + j] = h.tau;
    }
    // The rest of the panel: a_c -= tau (v . a_c) v, all columns' dot products in one pass.
    const uint32_t rest = p.width - j - 1;
    if (rest == 0 || h.tau == C(0)) continue;
    C partial[kHouseholderMaxPanel];
    MSVD_UNROLL
    for (uint32_t c = 0; c < kHouseholderMaxPanel; ++c) partial[c] = C(0);
    for (uint32_t r = col + tid; r < p.rows; r += p.threads) {
      const C v = yj[r];
      MSVD_UNROLL
      for (uint32_t c = 0; c < kHouseholderMaxPanel; ++c)
        if (c < rest) partial[c] += v * a[(col + 1 + c) * p.lda + r];
    }
    MSVD_UNROLL
    for (uint32_t c = 0; c < kHouseholderMaxPanel; ++c) {
      const C sum = simd_reduce_sum(partial[c]);
      if (ctx.lane == 0 && c < rest) partials[ctx.simd_group * kHouseholderMaxPanel + c] = sum;
    }
    group_barrier();
    if (tid < rest) {
      C sum = C(0);
      for (uint32_t g = 0; g < simd_groups; ++g) sum += partials[g * kHouseholderMaxPanel + tid];
      dots[tid] = h.tau * sum;
    }
    group_barrier();
    for (uint32_t r = col + tid; r < p.rows; r += p.threads) {
      const C v = yj[r];
      for (uint32_t c = 0; c < rest; ++c) a[(col + 1 + c) * p.lda + r] -= dots[c] * v;
    }
    group_barrier_with_device_memory();
  }
}

// The end of the rows of a multi-group panel's group that begins at row `begin`.
template <typename P>
MSVD_INLINE uint32_t householder_group_end(MSVD_CONSTANT const P& p, uint32_t begin) {
  return begin + p.rows_per_group < p.rows ? begin + p.rows_per_group : p.rows;
}

// Reflector `first`'s sums over this group's rows of the multi-group panel (see
// householder_sums_copy_size), written to `sums`. Each thread handles the same rows as in
// householder_column's update, so it reads only values it wrote itself.
template <typename P, typename C>
MSVD_INLINE void householder_group_sums(MSVD_CONSTANT const P& p, MSVD_DEVICE const C* a,
                                        uint32_t first, MSVD_DEVICE C* sums,
                                        MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const uint32_t chunk = ctx.group % p.groups_per_matrix;
  const uint32_t tid = ctx.thread_index;
  const uint32_t col = p.panel + first;
  const uint32_t begin = chunk * p.rows_per_group;
  const uint32_t end = householder_group_end(p, begin);
  MSVD_DEVICE C* head = sums + p.groups_per_matrix * kHouseholderMaxPanel;
  C partial[kHouseholderMaxPanel];
  MSVD_UNROLL
  for (uint32_t c = 0; c < kHouseholderMaxPanel; ++c) partial[c] = C(0);
  for (uint32_t r = begin + tid; r < end; r += p.threads) {
    if (r == col)
      for (uint32_t c = first; c < p.width; ++c) head[c] = a[(p.panel + c) * p.lda + r];
    if (r <= col) continue;
    const C x = a[col * p.lda + r];
    MSVD_UNROLL
    for (uint32_t c = 0; c < kHouseholderMaxPanel; ++c)
      if (c >= first && c < p.width) partial[c] += x * a[(p.panel + c) * p.lda + r];
  }
  MSVD_UNROLL
  for (uint32_t c = 0; c < kHouseholderMaxPanel; ++c) {
    const C sum = simd_reduce_sum(partial[c]);
    if (ctx.lane == 0) scratch[ctx.simd_group * kHouseholderMaxPanel + c] = sum;
  }
  group_barrier();
  if (tid < kHouseholderMaxPanel) {
    C sum = C(0);
    for (uint32_t g = 0; g < p.threads / kSimdWidth; ++g)
      sum += scratch[g * kHouseholderMaxPanel + tid];
    sums[chunk * kHouseholderMaxPanel + tid] = sum;
  }
}

template <typename P, typename C>
MSVD_INLINE MSVD_DEVICE C* householder_sums(MSVD_CONSTANT const P& p, MSVD_DEVICE C* w2,
                                            uint32_t matrix, uint32_t step) {
  return w2 + static_cast<int64_t>(matrix) * p.t_batch_stride + p.sums_offset +
         (step % 2) * householder_sums_copy_size(p.groups_per_matrix);
}

// Reflector 0's sums of the panel at column k. Scratch as householder_panel's.
template <typename P, typename T, typename C>
MSVD_INLINE void householder_column_start(MSVD_CONSTANT const P& p, MSVD_DEVICE T*,
                                          MSVD_DEVICE C* w0, MSVD_DEVICE C*, MSVD_DEVICE C* w2,
                                          MSVD_DEVICE int32_t*, MSVD_DEVICE int32_t*,
                                          MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  householder_group_sums(p, w0 + static_cast<int64_t>(matrix) * p.a_batch_stride, 0u,
                         householder_sums(p, w2, matrix, 0u), scratch, ctx);
}

// Reflector j = step of the panel from the sums of all groups: every group derives tau, beta
// and the update coefficients of the remaining columns itself (the sums are a few hundred
// values), applies the reflector to its rows and writes its part of Y; then it sums reflector
// j + 1's dots over the same rows. The norm is summed below the diagonal only, as LAPACK's
// xLARFG does, so a column that is nearly e_1 keeps its accuracy. Scratch: householder_panel's.
template <typename P, typename T, typename C>
MSVD_INLINE void householder_column(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                    MSVD_DEVICE C* w1, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                                    MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                    ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  const uint32_t chunk = ctx.group % p.groups_per_matrix;
  const uint32_t tid = ctx.thread_index;
  const uint32_t j = p.step;
  const uint32_t col = p.panel + j;
  MSVD_DEVICE C* a = w0 + static_cast<int64_t>(matrix) * p.a_batch_stride;
  MSVD_DEVICE C* y = w1 + static_cast<int64_t>(matrix) * p.y_batch_stride;
  MSVD_DEVICE const C* sums = householder_sums(p, w2, matrix, j);
  MSVD_DEVICE const C* head = sums + p.groups_per_matrix * kHouseholderMaxPanel;
  const uint32_t slices = p.threads / kHouseholderMaxPanel;
  MSVD_THREADGROUP C* partials = scratch;  // slices x kHouseholderMaxPanel
  MSVD_THREADGROUP C* dots = scratch + (p.threads / kSimdWidth) * kHouseholderMaxPanel;

  // The groups' sums, a column a lane: every thread adds up every slices-th group's, a few at
  // a time. The sums sit in L2, so what a launch waits for is the number of dependent loads a
  // thread makes, not their total.
  {
    const uint32_t c = tid % kHouseholderMaxPanel;
    C acc[kHouseholderSumsInFlight];
    MSVD_UNROLL
    for (uint32_t u = 0; u < kHouseholderSumsInFlight; ++u) acc[u] = C(0);
    if (c >= j && c < p.width)
      for (uint32_t g = tid / kHouseholderMaxPanel; g < p.groups_per_matrix;
           g += kHouseholderSumsInFlight * slices) {
        MSVD_UNROLL
        for (uint32_t u = 0; u < kHouseholderSumsInFlight; ++u)
          if (g + u * slices < p.groups_per_matrix)
            acc[u] += sums[(g + u * slices) * kHouseholderMaxPanel + c];
      }
    C sum = C(0);
    MSVD_UNROLL
    for (uint32_t u = 0; u < kHouseholderSumsInFlight; ++u) sum += acc[u];
    partials[tid] = sum;
  }
  group_barrier();
  if (tid >= j && tid < p.width) {
    C sum = C(0);
    for (uint32_t s = 0; s < slices; ++s) sum += partials[s * kHouseholderMaxPanel + tid];
    dots[tid] = sum;
  }
  group_barrier();
  const Reflector<C> h = householder_reflector(head[j], dots[j]);
  group_barrier();  // every thread has read dots[j]
  // Column c's coefficient tau (v . a_c), with v = (1, x_below * scale).
  if (tid > j && tid < p.width) dots[tid] = h.tau * (head[tid] + h.scale * dots[tid]);
  group_barrier();

  const uint32_t begin = chunk * p.rows_per_group;
  const uint32_t end = householder_group_end(p, begin);
  for (uint32_t r = begin + tid; r < end; r += p.threads) {
    C v = C(0);
    if (r == col) {
      v = C(1);
      a[col * p.lda + r] = h.beta;
    } else if (r > col) {
      v = a[col * p.lda + r] * h.scale;
      a[col * p.lda + r] = v;
    }
    y[col * p.lda + r] = v;
    if (r < col) continue;
    for (uint32_t c = j + 1; c < p.width; ++c) a[(p.panel + c) * p.lda + r] -= dots[c] * v;
  }
  if (chunk == 0 && tid == 0)
    w2[static_cast<int64_t>(matrix) * p.t_batch_stride + p.t_offset + j * p.width + j] = h.tau;
  if (j + 1 < p.width)
    householder_group_sums(p, a, j + 1, householder_sums(p, w2, matrix, j + 1), scratch, ctx);
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
