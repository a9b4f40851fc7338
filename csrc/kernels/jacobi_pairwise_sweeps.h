// Sweeps of the fused Jacobi kernel in which every column pair of a round is rotated by
// `threads_per_pair` lanes of one SIMD group reading threadgroup memory; one barrier per round.
#pragma once

#include "dialect.h"
#include "group_reduce.h"
#include "jacobi_rotation.h"
#include "jacobi_small_params.h"
#include "svd_status.h"

namespace metalsvd {
namespace kernels {

// Rows of a column pair each lane keeps in registers during a rotation; taller problems per
// lane read threadgroup memory twice instead.
MSVD_CONSTANT constexpr uint32_t kCachedRowsPerLane = 8;

struct PairwiseSweeps {
  // Runs sweeps until one needs no rotation (or p.max_sweeps); returns the SvdStatus.
  template <typename C, bool kVInThreadgroup, typename VPointer>
  MSVD_INLINE static int32_t run(MSVD_CONSTANT const JacobiSmallParams& p, MSVD_THREADGROUP C* a,
                                 uint32_t lda, VPointer v, uint32_t ldv,
                                 MSVD_THREADGROUP C* rotated_flag, ThreadContext ctx) {
    const uint32_t m = p.rows;
    const uint32_t n = p.cols;
    const uint32_t threads = p.threads;
    const uint32_t tid = ctx.thread_index;
    const uint32_t lanes = p.threads_per_pair;
    const uint32_t slots = threads / lanes;
    const uint32_t slot = tid / lanes;
    const uint32_t lane = tid % lanes;
    const uint32_t n_even = n + (n & 1u);
    const uint32_t pairs = n_even / 2;
    const C tol = jacobi_tolerance<C>(m);
    const C negligible = negligible_norm_squared<C>();
    const bool rows_cached = m <= lanes * kCachedRowsPerLane;
    int32_t status = kSvdNotConverged;
    for (uint32_t sweep = 0; sweep < p.max_sweeps; ++sweep) {
      if (tid == 0) *rotated_flag = C(0);
      group_barrier();
      for (uint32_t round = 0; round + 1 < n_even; ++round) {
        for (uint32_t first = 0; first < pairs; first += slots) {
          const ColumnPair pair = round_robin_pair(n_even, round, first + slot);
          const bool active = first + slot < pairs && pair.i < n && pair.j < n;
          MSVD_THREADGROUP C* ai = a + pair.i * lda;
          MSVD_THREADGROUP C* aj = a + pair.j * lda;
          // The lane's rows of both columns stay in registers from the dot products to the
          // update when they fit, which halves the threadgroup-memory reads of A.
          C xi[kCachedRowsPerLane];
          C xj[kCachedRowsPerLane];
          C alpha = C(0);
          C beta = C(0);
          C gamma = C(0);
          if (rows_cached) {
            MSVD_UNROLL
            for (uint32_t q = 0; q < kCachedRowsPerLane; ++q) {
              const uint32_t r = lane + q * lanes;
              const bool present = active && r < m;
              xi[q] = present ? ai[r] : C(0);
              xj[q] = present ? aj[r] : C(0);
              alpha += xi[q] * xi[q];
              beta += xj[q] * xj[q];
              gamma += xi[q] * xj[q];
            }
          } else if (active) {
            for (uint32_t r = lane; r < m; r += lanes) {
              const C x = ai[r];
              const C y = aj[r];
              alpha += x * x;
              beta += y * y;
              gamma += x * y;
            }
          }
          // Every lane of the SIMD group takes part in the shuffles, active or not.
          alpha = lane_group_sum(alpha, lanes);
          beta = lane_group_sum(beta, lanes);
          gamma = lane_group_sum(gamma, lanes);
          if (active && alpha > negligible && beta > negligible &&
              math_abs(gamma) > tol * math_sqrt(alpha) * math_sqrt(beta)) {
            const Rotation<C> rot = jacobi_rotation(alpha, beta, gamma);
            if (rows_cached) {
              MSVD_UNROLL
              for (uint32_t q = 0; q < kCachedRowsPerLane; ++q) {
                const uint32_t r = lane + q * lanes;
                if (r < m) {
                  ai[r] = rot.c * xi[q] - rot.s * xj[q];
                  aj[r] = rot.s * xi[q] + rot.c * xj[q];
                }
              }
            } else {
              for (uint32_t r = lane; r < m; r += lanes) {
                const C x = ai[r];
                const C y = aj[r];
                ai[r] = rot.c * x - rot.s * y;
                aj[r] = rot.s * x + rot.c * y;
              }
            }
            for (uint32_t r = lane; r < n; r += lanes) {
              const C x = v[pair.i * ldv + r];
              const C y = v[pair.j * ldv + r];
              v[pair.i * ldv + r] = rot.c * x - rot.s * y;
              v[pair.j * ldv + r] = rot.s * x + rot.c * y;
            }
            if (lane == 0) *rotated_flag = C(1);
          }
        }
        barrier_after_update<kVInThreadgroup>();
      }
      const bool rotated = *rotated_flag != C(0);
      group_barrier();
      if (!rotated) {
        status = kSvdConverged;
        break;
      }
    }

    return status;
  }
};

}  // namespace kernels
}  // namespace metalsvd
