// Sweeps of the fused Jacobi kernel in which each SIMD group holds two blocks of columns of A
// and V in registers (rows spread over its 32 lanes) and rotates every pair between them before
// writing back. A rotation then costs registers and three SIMD reductions instead of two
// threadgroup-memory round trips of four columns, which bound the pairwise sweeps.
//
// One sweep: every SIMD group takes neighbouring blocks (2b, 2b+1) and runs a full local sweep
// over their 2 * kWarpBlockWidth columns, which covers every pair inside a block; then a
// round-robin over blocks pairs every block with every other, a SIMD group per block pair,
// each rotating the kWarpBlockWidth^2 pairs across its two blocks. One barrier per round.
#pragma once

#include "dialect.h"
#include "jacobi_rotation.h"
#include "jacobi_small_params.h"
#include "svd_status.h"

namespace metalsvd {
namespace kernels {

// Columns per block: two blocks of A and V at kRows rows per lane are 4 * 4 * kRows registers.
MSVD_CONSTANT constexpr uint32_t kWarpBlockWidth = 4;

// Most threads a warp-block kernel with kRows rows per lane runs with, indexed by kRows (1, 2,
// 4, 8). Rows bound the columns of a tall problem (cols <= rows <= 32 kRows), so kRows <= 4
// never needs more than one SIMD group per pair of 4-column blocks: 4, 8, 16 SIMD groups; the
// bound is the register budget (2 x 2 x kWarpBlockWidth x kRows values per thread) for kRows = 8.
MSVD_CONSTANT constexpr uint32_t kWarpBlockMaxThreads[9] = {0, 128, 256, 0, 512, 0, 0, 0, 256};

// Two blocks of columns of A and V, lane `lane` holding rows lane + 32 q, q < kRows. All
// indices into the arrays are compile-time constants once the loops are unrolled, so they stay
// in registers.
template <typename C, uint32_t kRows>
struct WarpBlockPair {
  C a[2 * kWarpBlockWidth][kRows];
  C v[2 * kWarpBlockWidth][kRows];

  MSVD_INLINE static uint32_t column(uint32_t c, uint32_t first_block, uint32_t second_block) {
    return (c < kWarpBlockWidth ? first_block : second_block) * kWarpBlockWidth +
           c % kWarpBlockWidth;
  }

  template <typename VPointer>
  MSVD_INLINE void load(MSVD_THREADGROUP const C* a_columns, uint32_t lda, VPointer v_columns,
                        uint32_t ldv, uint32_t first_block, uint32_t second_block, uint32_t m,
                        uint32_t n, uint32_t lane) {
    MSVD_UNROLL
    for (uint32_t c = 0; c < 2 * kWarpBlockWidth; ++c) {
      const uint32_t col = column(c, first_block, second_block);
      MSVD_UNROLL
      for (uint32_t q = 0; q < kRows; ++q) {
        const uint32_t r = lane + q * kSimdWidth;
        a[c][q] = col < n && r < m ? a_columns[col * lda + r] : C(0);
        v[c][q] = col < n && r < n ? v_columns[col * ldv + r] : C(0);
      }
    }
  }

  template <typename VPointer>
  MSVD_INLINE void store(MSVD_THREADGROUP C* a_columns, uint32_t lda, VPointer v_columns,
                         uint32_t ldv, uint32_t first_block, uint32_t second_block, uint32_t m,
                         uint32_t n, uint32_t lane) const {
    MSVD_UNROLL
    for (uint32_t c = 0; c < 2 * kWarpBlockWidth; ++c) {
      const uint32_t col = column(c, first_block, second_block);
      MSVD_UNROLL
      for (uint32_t q = 0; q < kRows; ++q) {
        const uint32_t r = lane + q * kSimdWidth;
        if (col < n && r < m) a_columns[col * lda + r] = a[c][q];
        if (col < n && r < n) v_columns[col * ldv + r] = v[c][q];
      }
    }
  }

  // Rotates columns i and j if they are not yet orthogonal to tol; the decision is uniform
  // across the SIMD group, since it rests on SIMD-wide sums.
  MSVD_INLINE bool rotate(uint32_t i, uint32_t j, C tol, C negligible) {
    C alpha = C(0);
    C beta = C(0);
    C gamma = C(0);
    MSVD_UNROLL
    for (uint32_t q = 0; q < kRows; ++q) {
      alpha += a[i][q] * a[i][q];
      beta += a[j][q] * a[j][q];
      gamma += a[i][q] * a[j][q];
    }
    alpha = simd_reduce_sum(alpha);
    beta = simd_reduce_sum(beta);
    gamma = simd_reduce_sum(gamma);
    if (!(alpha > negligible && beta > negligible &&
          math_abs(gamma) > tol * math_sqrt(alpha) * math_sqrt(beta)))
      return false;
    const Rotation<C> rot = jacobi_rotation(alpha, beta, gamma);
    MSVD_UNROLL
    for (uint32_t q = 0; q < kRows; ++q) {
      const C x = a[i][q];
      const C y = a[j][q];
      a[i][q] = rot.c * x - rot.s * y;
      a[j][q] = rot.s * x + rot.c * y;
      const C vx = v[i][q];
      const C vy = v[j][q];
      v[i][q] = rot.c * vx - rot.s * vy;
      v[j][q] = rot.s * vx + rot.c * vy;
    }
    return true;
  }

  // Every pair of the 2 * kWarpBlockWidth columns, in circle-method order.
  MSVD_INLINE bool local_sweep(C tol, C negligible) {
    bool rotated = false;
    MSVD_UNROLL
    for (uint32_t round = 0; round + 1 < 2 * kWarpBlockWidth; ++round) {
      MSVD_UNROLL
      for (uint32_t k = 0; k < kWarpBlockWidth; ++k) {
        const ColumnPair pair = round_robin_pair(2 * kWarpBlockWidth, round, k);
        const bool done = rotate(pair.i, pair.j, tol, negligible);
        rotated = rotated || done;
      }
    }
    return rotated;
  }

  // Every pair with one column in each block.
  MSVD_INLINE bool cross_sweep(C tol, C negligible) {
    bool rotated = false;
    MSVD_UNROLL
    for (uint32_t shift = 0; shift < kWarpBlockWidth; ++shift) {
      MSVD_UNROLL
      for (uint32_t k = 0; k < kWarpBlockWidth; ++k) {
        const bool done =
            rotate(k, kWarpBlockWidth + (k + shift) % kWarpBlockWidth, tol, negligible);
        rotated = rotated || done;
      }
    }
    return rotated;
  }
};

template <uint32_t kRows>
struct WarpBlockSweeps {
  // Runs sweeps until one needs no rotation (or p.max_sweeps); returns the SvdStatus.
  // Needs rows <= 32 * kRows.
  template <typename C, bool kVInThreadgroup, typename VPointer>
  MSVD_INLINE static int32_t run(MSVD_CONSTANT const JacobiSmallParams& p, MSVD_THREADGROUP C* a,
                                 uint32_t lda, VPointer v, uint32_t ldv,
                                 MSVD_THREADGROUP C* rotated_flag, ThreadContext ctx) {
    const uint32_t m = p.rows;
    const uint32_t n = p.cols;
    const uint32_t simd_groups = p.threads / kSimdWidth;
    const uint32_t blocks = (n + kWarpBlockWidth - 1) / kWarpBlockWidth;
    const uint32_t blocks_even = blocks + (blocks & 1u);
    const C tol = jacobi_tolerance<C>(m);
    const C negligible = negligible_norm_squared<C>();
    for (uint32_t sweep = 0; sweep < p.max_sweeps; ++sweep) {
      if (ctx.thread_index == 0) *rotated_flag = C(0);
      group_barrier();
      for (uint32_t b = 2 * ctx.simd_group; b < blocks; b += 2 * simd_groups) {
        WarpBlockPair<C, kRows> pair;
        pair.load(a, lda, v, ldv, b, b + 1, m, n, ctx.lane);
        const bool rotated = pair.local_sweep(tol, negligible);
        pair.store(a, lda, v, ldv, b, b + 1, m, n, ctx.lane);
        if (rotated && ctx.lane == 0) *rotated_flag = C(1);
      }
      barrier_after_update<kVInThreadgroup>();
      for (uint32_t round = 0; round + 1 < blocks_even; ++round) {
        for (uint32_t k = ctx.simd_group; k < blocks_even / 2; k += simd_groups) {
          const ColumnPair blocks_pair = round_robin_pair(blocks_even, round, k);
          if (blocks_pair.i >= blocks || blocks_pair.j >= blocks) continue;
          WarpBlockPair<C, kRows> pair;
          pair.load(a, lda, v, ldv, blocks_pair.i, blocks_pair.j, m, n, ctx.lane);
          const bool rotated = pair.cross_sweep(tol, negligible);
          pair.store(a, lda, v, ldv, blocks_pair.i, blocks_pair.j, m, n, ctx.lane);
          if (rotated && ctx.lane == 0) *rotated_flag = C(1);
        }
        barrier_after_update<kVInThreadgroup>();
      }
      const bool rotated = *rotated_flag != C(0);
      group_barrier();
      if (!rotated) return kSvdConverged;
    }
    return kSvdNotConverged;
  }
};

}  // namespace kernels
}  // namespace metalsvd
