// Singular values of the blocked Jacobi refined in float64 (backends with fp64 only: nothing
// here is instantiated for Metal). After many rounds the columns of G carry the rounding of every
// rotation, so sigma_j = ||g_j|| / ||v_j|| is off by up to ~sqrt(rounds) eps sigma_max. The
// Rayleigh quotient ||G0 v_j|| / ||v_j||, with G0 the matrix as loaded and the product summed in
// float64, depends on v_j only to second order: its error is ~theta^2 sigma_max^2 / sigma_j for v_j
// theta off. That is far smaller for the large singular values and larger for the tiny ones, whose
// relative accuracy one-sided Jacobi keeps: only values of at least kRefineFloor sigma_max are
// replaced.
//   block_jacobi_refine_partials   per (row block, column): sum over the block's rows of
//                                  (G0 v_j)_i^2, and ||v_j||^2, in float64
//   block_jacobi_refine_sigma      the sums per column, and the new sort keys
// They run between block_jacobi_norms and block_jacobi_sort, on the same finalize scratch.
#pragma once

#include "block_jacobi.h"
#include "dialect.h"
#include "group_reduce.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

// A value is replaced when it is at least this fraction of sigma_max: then the Rayleigh
// quotient's relative error, ~(theta / kRefineFloor)^2 with theta ~ 1e-5, is below the ~1e-6 of
// the column norms; below it, Jacobi's relative accuracy is the better.
MSVD_CONSTANT constexpr double kRefineFloor = 1e-2;
// The product tile of one group (rows and columns) and its inner step.
MSVD_CONSTANT constexpr uint32_t kRefineTile = 64;
MSVD_CONSTANT constexpr uint32_t kRefineDepth = 16;
MSVD_CONSTANT constexpr uint32_t kRefineThreads = 256;  // a 4 x 4 patch of the tile each
// Threadgroup memory of block_jacobi_refine_partials (two float64 tiles).
MSVD_CONSTANT constexpr uint32_t kRefineScratchBytes = 2 * kRefineTile * kRefineDepth * 8;

// `matrix`'s float64 sums in the finalize scratch: refine_row_blocks x padded_cols partial sums
// of squares, then padded_cols squared norms of V's columns.
template <typename C>
MSVD_INLINE MSVD_DEVICE double* refine_sums(MSVD_CONSTANT const BlockJacobiParams& p,
                                            MSVD_DEVICE C* w2, uint32_t matrix) {
  return reinterpret_cast<MSVD_DEVICE double*>(
      w2 + static_cast<int64_t>(matrix) * p.finalize_batch_stride + p.refine_offset);
}

// Groups: batch x refine_row_blocks x column tiles (groups_per_matrix per matrix), each the
// float64 product of a 64-row block of G0 (w0: rows x cols, ld rows, packed) with 64 columns of
// V (the final copy in w1). Threads: kRefineThreads.
template <typename P, typename T, typename C>
MSVD_INLINE void block_jacobi_refine_partials(MSVD_CONSTANT const P& p, MSVD_DEVICE T*,
                                              MSVD_DEVICE C* w0, MSVD_DEVICE C* w1,
                                              MSVD_DEVICE C* w2, MSVD_DEVICE int32_t* state,
                                              MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                              ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  if (not_finite(p, state, matrix)) return;
  const uint32_t col_tiles = (p.padded_cols + kRefineTile - 1) / kRefineTile;
  const uint32_t tile = ctx.group % p.groups_per_matrix;
  const uint32_t row_block = tile / col_tiles;
  const uint32_t row0 = row_block * kRefineTile;
  const uint32_t col0 = (tile % col_tiles) * kRefineTile;
  MSVD_DEVICE const C* g0 = w0 + static_cast<int64_t>(matrix) * p.rows * p.cols;
  MSVD_DEVICE const C* v = final_copy(w1, p.v_parity_stride, p.v_batch_stride, p, state, matrix);
  MSVD_THREADGROUP double* gs = reinterpret_cast<MSVD_THREADGROUP double*>(scratch);
  MSVD_THREADGROUP double* vs = gs + kRefineTile * kRefineDepth;
  const uint32_t tid = ctx.thread_index;
  const uint32_t r0 = (tid % 16) * 4;
  const uint32_t c0 = (tid / 16) * 4;
  double acc[4][4];
  MSVD_UNROLL
  for (uint32_t a = 0; a < 4; ++a) {
    MSVD_UNROLL
    for (uint32_t b = 0; b < 4; ++b) acc[a][b] = 0.0;
  }
  double v_norm2 = 0.0;  // thread t < 64 of row block 0: column col0 + t
  for (uint32_t k0 = 0; k0 < p.cols; k0 += kRefineDepth) {
    for (uint32_t idx = tid; idx < kRefineTile * kRefineDepth; idx += kRefineThreads) {
      const uint32_t r = idx % kRefineTile;
      const uint32_t k = idx / kRefineTile;
      gs[idx] = row0 + r < p.rows && k0 + k < p.cols
                    ? static_cast<double>(g0[static_cast<int64_t>(k0 + k) * p.rows + row0 + r])
                    : 0.0;
      const uint32_t vk = idx % kRefineDepth;
      const uint32_t vc = idx / kRefineDepth;
      vs[idx] = col0 + vc < p.padded_cols && k0 + vk < p.cols
                    ? static_cast<double>(v[static_cast<int64_t>(col0 + vc) * p.ldv + k0 + vk])
                    : 0.0;
    }
    group_barrier();
    MSVD_UNROLL
    for (uint32_t k = 0; k < kRefineDepth; ++k) {
      double x[4];
      double y[4];
      MSVD_UNROLL
      for (uint32_t a = 0; a < 4; ++a) x[a] = gs[k * kRefineTile + r0 + a];
      MSVD_UNROLL
      for (uint32_t b = 0; b < 4; ++b) y[b] = vs[(c0 + b) * kRefineDepth + k];
      MSVD_UNROLL
      for (uint32_t a = 0; a < 4; ++a) {
        MSVD_UNROLL
        for (uint32_t b = 0; b < 4; ++b) acc[a][b] += x[a] * y[b];
      }
    }
    if (row_block == 0 && tid < kRefineTile)
      for (uint32_t k = 0; k < kRefineDepth; ++k)
        v_norm2 += vs[tid * kRefineDepth + k] * vs[tid * kRefineDepth + k];
    group_barrier();
  }
  // Column sums of squares over this block's rows: 16 threads share each 4 columns.
  MSVD_THREADGROUP double* sums = gs;  // kRefineTile x 16
  MSVD_UNROLL
  for (uint32_t b = 0; b < 4; ++b) {
    double s = 0.0;
    MSVD_UNROLL
    for (uint32_t a = 0; a < 4; ++a) s += acc[a][b] * acc[a][b];
    sums[(c0 + b) * 16 + tid % 16] = s;
  }
  group_barrier();
  if (tid < kRefineTile && col0 + tid < p.padded_cols) {
    double s = 0.0;
    for (uint32_t l = 0; l < 16; ++l) s += sums[tid * 16 + l];
    MSVD_DEVICE double* out = refine_sums(p, w2, matrix);
    out[static_cast<int64_t>(row_block) * p.padded_cols + col0 + tid] = s;
    if (row_block == 0)
      out[static_cast<int64_t>(p.refine_row_blocks) * p.padded_cols + col0 + tid] = v_norm2;
  }
}

// One group per matrix: sigma_j = sqrt(sum of the partial sums / ||v_j||^2) for every column
// whose Jacobi value is at least kRefineFloor sigma_max (padding columns, -1, and null columns
// keep theirs).
template <typename P, typename T, typename C>
MSVD_INLINE void block_jacobi_refine_sigma(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C*,
                                           MSVD_DEVICE C*, MSVD_DEVICE C* w2,
                                           MSVD_DEVICE int32_t* state, MSVD_DEVICE int32_t*,
                                           MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const uint32_t matrix = ctx.group;
  if (not_finite(p, state, matrix)) return;
  const FinalizeScratch<C> f = finalize_scratch(p, w2, matrix);
  MSVD_DEVICE const double* sums = refine_sums(p, w2, matrix);
  C local_max = C(0);
  for (uint32_t j = ctx.thread_index; j < p.padded_cols; j += p.threads)
    local_max = math_max(local_max, f.sigma[j]);
  const C sigma_max = group_reduce_max(local_max, scratch, ctx, p.threads);
  const double floor = kRefineFloor * static_cast<double>(sigma_max);
  for (uint32_t j = ctx.thread_index; j < p.padded_cols; j += p.threads) {
    const double jacobi = static_cast<double>(f.sigma[j]);
    if (jacobi <= 0.0 || jacobi < floor) continue;
    double s2 = 0.0;
    for (uint32_t b = 0; b < p.refine_row_blocks; ++b)
      s2 += sums[static_cast<int64_t>(b) * p.padded_cols + j];
    const double v2 = sums[static_cast<int64_t>(p.refine_row_blocks) * p.padded_cols + j];
    if (v2 > 0.0) f.sigma[j] = static_cast<C>(math_sqrt(s2 / v2));
  }
}

}  // namespace kernels
}  // namespace metalsvd
