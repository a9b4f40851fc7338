// Blocked Householder QR, the panel half: the backend's GEMM applies each panel's block
// reflector H = I - Y T Y^T to the trailing columns (LAPACK xGEQRF with xLARFT's compact WY).
//   householder_panel       factors columns [k, k + width) of A in place, writes the explicit
//                           reflectors Y (unit diagonal, zeros above) and tau on T's diagonal
//   householder_triangle    T's strict upper triangle from S = Y^T Y (a GEMM) and tau
// Everything is column-major in device memory, one group per matrix.
#pragma once

#include "dialect.h"
#include "group_reduce.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

// Widest panel: the column dot products of one reflector step are kept in registers.
MSVD_CONSTANT constexpr uint32_t kHouseholderMaxPanel = 32;

struct HouseholderParams {
  int64_t a_batch_stride;  // w0: A, rows x cols, leading dimension lda
  int64_t y_batch_stride;  // w1: Y, rows x cols (panel k in columns k .. k + width), ld lda
  int64_t t_batch_stride;  // w2: T of every panel, width x width each, then S (width x width)
  uint32_t batch;
  uint32_t rows;
  uint32_t cols;
  uint32_t lda;
  uint32_t panel;     // first column k
  uint32_t width;     // columns in this panel (<= kHouseholderMaxPanel)
  uint32_t t_offset;  // elements from a matrix's w2 to this panel's T
  uint32_t s_offset;  // to S = Y^T Y of this panel
  uint32_t threads;
  uint32_t unused;
};

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
    const C alpha = x[col];
    // H = I - tau v v^T with v = (1, x_below / (alpha - beta)) maps x to beta e_1; a column
    // already zero below the diagonal needs no reflector (tau = 0), as in LAPACK.
    C tau = C(0);
    C beta = alpha;
    C scale = C(0);
    if (below > C(0)) {
      const C norm = math_sqrt(alpha * alpha + below);
      beta = alpha >= C(0) ? -norm : norm;
      tau = (beta - alpha) / beta;
      scale = C(1) / (alpha - beta);
    }
    MSVD_DEVICE C* yj = y + col * p.lda;
    for (uint32_t r = tid; r < p.rows; r += p.threads) {
      C v = C(0);
      if (r == col)
        v = C(1);
      else if (r > col)
        v = x[r] * scale;
      yj[r] = v;
      if (r > col) x[r] = v;
    }
    group_barrier_with_device_memory();
    // Only now: every thread has read alpha.
    if (tid == 0) {
      x[col] = beta;
      t_panel[j * p.width + j] = tau;
    }
    // The rest of the panel: a_c -= tau (v . a_c) v, all columns' dot products in one pass.
    const uint32_t rest = p.width - j - 1;
    if (rest == 0 || tau == C(0)) continue;
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
      dots[tid] = tau * sum;
    }
    group_barrier();
    for (uint32_t r = col + tid; r < p.rows; r += p.threads) {
      const C v = yj[r];
      for (uint32_t c = 0; c < rest; ++c) a[(col + 1 + c) * p.lda + r] -= dots[c] * v;
    }
    group_barrier_with_device_memory();
  }
}

// T upper triangular with H_k .. H_{k+w-1} = I - Y T Y^T (forward, columnwise):
// T[0:j, j] = -tau_j T[0:j, 0:j] S[0:j, j], S = Y^T Y. One group per matrix.
template <typename P, typename T, typename C>
MSVD_INLINE void householder_triangle(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C*,
                                      MSVD_DEVICE C*, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                                      MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                      ThreadContext ctx) {
  const uint32_t tid = ctx.thread_index;
  MSVD_DEVICE C* base = w2 + static_cast<int64_t>(ctx.group) * p.t_batch_stride;
  MSVD_DEVICE C* t = base + p.t_offset;
  MSVD_DEVICE const C* s = base + p.s_offset;
  const uint32_t w = p.width;
  for (uint32_t idx = tid; idx < w * w; idx += p.threads)
    if (idx % w > idx / w) t[idx] = C(0);  // below the diagonal (column-major: row > col)
  group_barrier_with_device_memory();
  for (uint32_t j = 1; j < w; ++j) {
    const C tau = t[j * w + j];
    if (tid < j) {
      C sum = C(0);
      for (uint32_t l = tid; l < j; ++l) sum += t[l * w + tid] * s[j * w + l];
      scratch[tid] = -tau * sum;
    }
    group_barrier();
    if (tid < j) t[j * w + tid] = scratch[tid];
    group_barrier_with_device_memory();
  }
}

}  // namespace kernels
}  // namespace metalsvd
