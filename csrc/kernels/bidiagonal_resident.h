// The whole Golub-Kahan bidiagonalisation of a matrix of up to kBrdResidentMaxRows rows in one
// launch, the matrix held in its groups' registers, one grid barrier a column.
//
// The launches of bidiagonal_reduction.h meet twice a column, since each of its two
// matrix-vector products needs every group's share of the other's result. Here a group holds
// whole columns (column c in group c % groups, a thread a row), so the left reflector's
// product A^T u is a sum within the group, and only the right reflector's A w = sum over the
// groups of their columns' parts needs the others: one grid barrier a column, where each group
// publishes its part of A w (raw: w = (1, scale r) with scale known only from every group's
// part of |r|^2, so the part is A r and the scale joins after the barrier) and the group of
// column k + 1 that column. After the barrier every group has x = tau A w and column k + 1,
// brought up to date, in full, and goes on to the next column's left reflector without
// another barrier. As LAPACK's xGEBD2, unblocked: the matrix is in registers, so its updates
// cost no memory traffic; a column costs the barrier, the groups' parts of x (groups x rows
// loads a group) and two barriers within the group.
//
// The launch's groups must all be resident at once (KernelLaunch::grid_barriers): CUDA and the
// emulator only; on Metal the plan takes bidiagonal_reduction.h's launches. Reflectors, tau
// and d / e go where those launches put them, so Q and P apply with the same code; A is read
// and not written.
#pragma once

#include "bidiagonal_reduction.h"
#include "group_reduce.h"

namespace metalsvd {
namespace kernels {

// Slots a SIMD group's butterfly sums at once (simd_row_sum_scattered): few enough that their
// registers fit beside the matrix's.
MSVD_CONSTANT constexpr uint32_t kBrdResidentChunk = 8;
static_assert(kBrdResidentSlots % kBrdResidentChunk == 0, "whole chunks of slots");

// The groups' parts of x a thread loads at once: loads that no condition guards (a group past
// the last reads the last, and its value is dropped), issued together rather than a round trip
// to memory each. Every read of what other groups wrote is load_coherent: the same addresses
// were read two columns before, and a cache may still hold those lines.
MSVD_CONSTANT constexpr uint32_t kBrdResidentLoads = 8;

// A parity's record of column k in threadgroup memory (elements): y, r beyond and the one-hot
// of column k + 1, a slot each (read four at a time, so each starts at a multiple of four),
// then row k's slots and alpha.
MSVD_CONSTANT constexpr uint32_t kBrdResidentYs = 0;
MSVD_CONSTANT constexpr uint32_t kBrdResidentBeyond = kBrdResidentSlots;
MSVD_CONSTANT constexpr uint32_t kBrdResidentNext = 2 * kBrdResidentSlots;
MSVD_CONSTANT constexpr uint32_t kBrdResidentHead = 3 * kBrdResidentSlots;
MSVD_CONSTANT constexpr uint32_t kBrdResidentRecord = 4 * kBrdResidentSlots + 4;
static_assert(kBrdResidentSlots == kSimdWidth, "a lane a slot where a SIMD group sums them");
static_assert(kBrdResidentSlots % 4 == 0, "whole quads of slots");

// Threadgroup memory of bidiagonal_resident, in elements: two parities of column k's record,
// then the SIMD groups' sums (kBrdResidentSlots dots and a norm each).
MSVD_HOST_DEVICE uint32_t brd_resident_scratch_elements(uint32_t threads) {
  return 2 * kBrdResidentRecord + (threads / kSimdWidth) * (kBrdResidentSlots + 1);
}

// Groups: batch x brd_resident_groups(cols) (p.groups_per_matrix), p.threads >= rows each (a
// thread a row). p.panel is 0.
//
// A thread does a column's work on its row's slots with no condition a slot: what depends on
// the slot's column (inside the trailing matrix, right of k + 1, k + 1 itself) is in the
// column's record as zeros and ones, written once by a lane a slot, and read four slots at a
// time. The slots of finished columns and of none (past n) are then updated by zeros and keep
// their values, finite where the input is (a matrix that is not comes out as nan, info 2,
// whatever this kernel makes of it).
template <typename P, typename T, typename C>
MSVD_INLINE void bidiagonal_resident(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                     MSVD_DEVICE C* w1, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                                     MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                     ThreadContext ctx) {
  constexpr uint32_t S = kBrdResidentSlots;
  wait_for_previous_kernel();
  const uint32_t groups = p.groups_per_matrix;
  const uint32_t matrix = ctx.group / groups;
  const uint32_t group = ctx.group % groups;
  const BrdMatrix<C> v = brd_matrix(p, w0, matrix);
  const BidiagonalLayout l = bidiagonal_layout(p.rows, p.cols, p.batch);
  MSVD_DEVICE C* exchange = w0 + l.exchange + static_cast<int64_t>(matrix) * l.exchange_stride;
  const int64_t parity_stride = brd_resident_exchange(p.rows, p.cols);
  const uint32_t m = p.rows;
  const uint32_t n = p.cols;
  const uint32_t t = ctx.thread_index;  // the thread's row
  const uint32_t lane = ctx.lane;
  const uint32_t warp = ctx.simd_group;
  const uint32_t warps = p.threads / kSimdWidth;
  const bool in_matrix = t < m;
  MSVD_THREADGROUP C* parts = scratch + 2 * kBrdResidentRecord;  // warps x (S + 1)
  MSVD_DEVICE C* yp_all = v.yp_all;
  MSVD_DEVICE C* yq_all = v.yq_all;

  // Slot s: column group + groups s (none past n).
  C a[S];
  MSVD_UNROLL
  for (uint32_t s = 0; s < S; ++s) {
    const uint32_t c = group + groups * s;
    a[s] = in_matrix && c < n ? v.a(t, c) : C(0);
  }
  C col = in_matrix ? v.a(t, 0) : C(0);  // column k, up to date (every group holds it)

  for (uint32_t k = 0; k < n; ++k) {
    // Column k's record: written while the previous column's is still read, hence two parities.
    MSVD_THREADGROUP C* record = scratch + (k % 2) * kBrdResidentRecord;
    MSVD_THREADGROUP C* ys = record + kBrdResidentYs;
    MSVD_THREADGROUP C* beyond = record + kBrdResidentBeyond;
    MSVD_THREADGROUP C* next_one = record + kBrdResidentNext;
    MSVD_THREADGROUP C* head = record + kBrdResidentHead;  // S + 1

    // The left reflector of column k, u = (1, scale col below k), from |col below k|^2, and the
    // raw dots col^T A[k+1.., c] of the group's columns (A^T u joins scale afterwards).
    const C col_below = in_matrix && t > k ? col : C(0);
    MSVD_UNROLL
    for (uint32_t base = 0; base < S; base += kBrdResidentChunk) {
      SimdRows<C, kBrdResidentChunk> dots;
      MSVD_UNROLL
      for (uint32_t i = 0; i < kBrdResidentChunk; ++i) dots.x[i] = a[base + i] * col_below;
      const C sum = simd_row_sum_scattered(dots, lane);
      if (lane < kBrdResidentChunk) parts[warp * (S + 1) + base + lane] = sum;
    }
    const C below_sum = simd_reduce_sum(col_below * col_below);
    if (lane == 0) parts[warp * (S + 1) + S] = below_sum;
    if (t == k) {
      MSVD_UNROLL
      for (uint32_t s = 0; s < S; ++s) head[s] = a[s];
      head[S] = col;
    }
    group_barrier();
    // Every SIMD group forms the reflector from the same sums (the same result, bit for bit),
    // then, a lane a slot of its share: y_c = tau (A[k, c] + scale dot_c), r_c = A[k, c] - y_c
    // (row k after the left update) where the right reflector takes it, and the one-hot of k + 1.
    const Reflector<C> h =
        householder_reflector(head[S], simd_sum_of_parts(parts + S, warps, S + 1, ctx));
    for (uint32_t s = warp; s < S; s += warps) {
      const C dot = simd_sum_of_parts(parts + s, warps, S + 1, ctx);
      if (lane == 0) {
        const uint32_t c = group + groups * s;
        const C y = c > k && c < n ? h.tau * (head[s] + h.scale * dot) : C(0);
        ys[s] = y;
        beyond[s] = c >= k + 2 && c < n ? head[s] - y : C(0);
        next_one[s] = c == k + 1 ? C(1) : C(0);
      }
    }
    if (group == k % groups) {
      if (t == 0) {
        v.de[k] = h.beta;
        w1[static_cast<int64_t>(matrix) * p.q_t_batch_stride + householder_tau_index(k, n)] = h.tau;
      }
      if (in_matrix)
        yq_all[static_cast<int64_t>(k) * m + t] = t < k ? C(0) : (t == k ? C(1) : h.scale * col);
    }
    group_barrier();

    // A -= u y^T over the group's columns, then the group's part of A r (columns from k + 2)
    // and column k + 1 where the group holds it.
    const C u = t == k ? C(1) : h.scale * col_below;
    C raw = C(0);
    C next = C(0);
    MSVD_UNROLL
    for (uint32_t q = 0; q < S; q += 4) {
      const Quad<C> y4 = load_quad(ys + q);
      const Quad<C> r4 = load_quad(beyond + q);
      const Quad<C> e4 = load_quad(next_one + q);
      MSVD_UNROLL
      for (uint32_t i = 0; i < 4; ++i) {
        a[q + i] -= u * y4.x[i];
        raw += a[q + i] * r4.x[i];
        next += a[q + i] * e4.x[i];
      }
    }
    if (k + 1 == n) break;  // no right reflector for the last column

    MSVD_DEVICE C* out = exchange + (k % 2) * parity_stride;
    MSVD_DEVICE C* records = out + static_cast<int64_t>(groups + 1) * m;
    if (in_matrix) {
      out[static_cast<int64_t>(group) * m + t] = raw;
      if (group == (k + 1) % groups) out[static_cast<int64_t>(groups) * m + t] = next;
    }
    // The group's alpha (r at k + 1, where it holds that column) and part of |r|^2: a lane a
    // slot.
    if (warp == 0) {
      const C alpha_part = simd_reduce_sum(next_one[lane] * (head[lane] - ys[lane]));
      const C norm_part = simd_reduce_sum(beyond[lane] * beyond[lane]);
      if (lane == 0) {
        records[2 * group] = alpha_part;
        records[2 * group + 1] = norm_part;
      }
    }
    grid_barrier();

    // The right reflector w = (1 at k + 1, scale r beyond) from every group's sums (a lane a
    // group, the same in every SIMD group), x = tau A w below row k, and column k + 1 less x
    // (w's entry there is 1).
    const C alpha = simd_reduce_sum(lane < groups ? load_coherent(&records[2 * lane]) : C(0));
    const C norm_below =
        simd_reduce_sum(lane < groups ? load_coherent(&records[2 * lane + 1]) : C(0));
    C sum = C(0);
    C column_next = C(0);
    if (in_matrix) {
      column_next = load_coherent(&out[static_cast<int64_t>(groups) * m + t]);
      for (uint32_t g0 = 0; g0 < groups; g0 += kBrdResidentLoads) {
        C part[kBrdResidentLoads];
        MSVD_UNROLL
        for (uint32_t i = 0; i < kBrdResidentLoads; ++i) {
          const uint32_t g = g0 + i < groups ? g0 + i : groups - 1;
          part[i] = load_coherent(&out[static_cast<int64_t>(g) * m + t]);
        }
        MSVD_UNROLL
        for (uint32_t i = 0; i < kBrdResidentLoads; ++i) sum += g0 + i < groups ? part[i] : C(0);
      }
    }
    const Reflector<C> g = householder_reflector(alpha, norm_below);
    const C x = in_matrix && t > k ? g.tau * (column_next + g.scale * sum) : C(0);
    // A -= x w^T: w is scale r beyond k + 1 and 1 at k + 1.
    const C x_scaled = x * g.scale;
    MSVD_UNROLL
    for (uint32_t q = 0; q < S; q += 4) {
      const Quad<C> r4 = load_quad(beyond + q);
      const Quad<C> e4 = load_quad(next_one + q);
      MSVD_UNROLL
      for (uint32_t i = 0; i < 4; ++i) a[q + i] -= x_scaled * r4.x[i] + x * e4.x[i];
    }
    col = column_next - x;
    if (group == 0 && t == 0) {
      v.de[n + k] = g.beta;
      w2[static_cast<int64_t>(matrix) * p.p_t_batch_stride + householder_tau_index(k, n - 1)] =
          g.tau;
    }
    // w into Yp's column k, each group its columns (0 left of k + 1).
    if (t < S) {
      const uint32_t c = group + groups * t;
      if (c < n) yp_all[static_cast<int64_t>(k) * n + c] = g.scale * beyond[t] + next_one[t];
    }
  }
}

// The most threads a group of bidiagonal_resident_narrow: groups of up to 512 rows.
MSVD_CONSTANT constexpr uint32_t kBrdResidentNarrowThreads = 512;

// bidiagonal_resident for groups of at most kBrdResidentNarrowThreads threads. A backend that
// bounds a kernel's registers by the most threads its groups may have (CUDA: 65536 / that)
// gives this one twice bidiagonal_resident's: at 64 a thread (1024 threads) a row's 32 slots
// and the loop's values do not fit, and 19 slots go to memory and back every column (sm_90:
// 100 bytes spilled); at 128 (512) they fit (103 registers, none spilled).
template <typename P, typename T, typename C>
MSVD_INLINE void bidiagonal_resident_narrow(MSVD_CONSTANT const P& p, MSVD_DEVICE T* io,
                                            MSVD_DEVICE C* w0, MSVD_DEVICE C* w1, MSVD_DEVICE C* w2,
                                            MSVD_DEVICE int32_t* state, MSVD_DEVICE int32_t* info,
                                            MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  bidiagonal_resident<P, T, C>(p, io, w0, w1, w2, state, info, scratch, ctx);
}

}  // namespace kernels
}  // namespace metalsvd
