// Threadgroup-wide reductions built from SIMD reductions and a small threadgroup buffer.
// Every thread of the group must call them (they contain barriers) and gets the result.
#pragma once

#include "dialect.h"

namespace metalsvd {
namespace kernels {

// The sum of `count` <= kSimdWidth parts in threadgroup memory, parts[g * stride], g < count,
// for every lane of the calling SIMD group: a lane a part, added by shuffles, where one thread
// adding them in turn waited on every add. Every SIMD group that calls it does the same
// operations on the same values, so every thread gets the same result, bit for bit.
template <typename C>
MSVD_INLINE C simd_sum_of_parts(MSVD_THREADGROUP const C* parts, uint32_t count, uint32_t stride,
                                ThreadContext ctx) {
  return simd_reduce_sum(ctx.lane < count ? parts[ctx.lane * stride] : C(0));
}

// `partials` holds at least kSimdWidth elements; it is free again when the call returns. Every
// SIMD group reduces the SIMD groups' partials itself (a group has at most kSimdWidth of them,
// 1024 threads), so every thread gets the result without a second barrier's wait for one.
template <typename C>
MSVD_INLINE C group_reduce_max(C x, MSVD_THREADGROUP C* partials, ThreadContext ctx,
                               uint32_t threads) {
  x = simd_reduce_max(x);
  if (ctx.lane == 0) partials[ctx.simd_group] = x;
  group_barrier();
  const C result =
      simd_reduce_max(ctx.lane < threads / kSimdWidth ? partials[ctx.lane] : partials[0]);
  group_barrier();
  return result;
}

template <typename C>
MSVD_INLINE C group_reduce_sum(C x, MSVD_THREADGROUP C* partials, ThreadContext ctx,
                               uint32_t threads) {
  x = simd_reduce_sum(x);
  if (ctx.lane == 0) partials[ctx.simd_group] = x;
  group_barrier();
  const C result = simd_sum_of_parts(partials, threads / kSimdWidth, 1, ctx);
  group_barrier();
  return result;
}

// Sum over aligned groups of `width` lanes (a power of two <= kSimdWidth) of one SIMD group.
// All lanes of the SIMD group must call it with the same width.
template <typename C>
MSVD_INLINE C lane_group_sum(C x, uint32_t width) {
  for (uint32_t offset = width >> 1; offset > 0; offset >>= 1) x += shuffle_xor(x, offset);
  return x;
}

// A lane's values of N rows of a block whose columns are the SIMD group's lanes (passed by value:
// kept in registers, where Metal allows no reference to a thread's array without naming its
// address space).
template <typename C, uint32_t N>
struct SimdRows {
  C x[N];
};

// log2(n) for a power of two n, at compile time.
MSVD_HOST_DEVICE constexpr uint32_t log2_of_power(uint32_t n) {
  uint32_t log = 0;
  while ((1u << log) < n) ++log;
  return log;
}

// One exchange of a butterfly across lane bit h: a lane with the bit set keeps `high`, the
// others `low`, and each adds the value its partner gives up. The selects are of values:
// `upper ? rows.x[i] : rows.x[i + h]` would be an lvalue, whose address a compiler may select,
// which puts the rows in local memory.
template <typename C>
MSVD_INLINE C simd_fold_pair(C low, C high, uint32_t lane, uint32_t h) {
  const bool upper = (lane & h) != 0;
  return (upper ? high : low) + shuffle_xor(upper ? low : high, h);
}

// The halving steps of a butterfly over a SimdRows block (lane = column, i = row): each halves
// the rows a lane holds, so that after log2(N) steps lane l holds row l mod N summed over the
// lanes that agree with it outside its low log2(N) bits. N, a power of two up to kSimdWidth.
// Both loops have trip counts fixed at compile time, so that every index is a constant once they
// are unrolled: an index known only at run time puts the rows in local memory.
template <typename C, uint32_t N>
MSVD_INLINE C simd_row_butterfly(SimdRows<C, N> rows, uint32_t lane) {
  MSVD_UNROLL
  for (uint32_t step = 1; step <= log2_of_power(N); ++step) {
    const uint32_t h = N >> step;  // a lane keeps rows [h, 2h) of its block of 2h, or [0, h)
    MSVD_UNROLL
    for (uint32_t i = 0; i < N / 2; ++i) {
      if (i >= h) continue;
      rows.x[i] = simd_fold_pair(rows.x[i], rows.x[i + h], lane, h);
    }
  }
  return rows.x[0];
}

// Row l mod N summed over the SIMD group, for every lane l: the butterfly, then the other lanes
// folded in — N - 1 + log2(kSimdWidth / N) shuffles where a reduction a row takes
// N log2(kSimdWidth).
template <typename C, uint32_t N>
MSVD_INLINE C simd_row_sum_scattered(SimdRows<C, N> rows, uint32_t lane) {
  C sum = simd_row_butterfly(rows, lane);
  MSVD_UNROLL
  for (uint32_t step = log2_of_power(N); step < log2_of_power(kSimdWidth); ++step)
    sum += shuffle_xor(sum, 1u << step);
  return sum;
}

// Every lane's x[i] becomes row i's sum over the SIMD group: the scattered sums, then a second
// butterfly that gathers the rows back, in order, to every lane — 2N - 2 + log2(kSimdWidth / N)
// shuffles in all.
template <typename C, uint32_t N>
MSVD_INLINE SimdRows<C, N> simd_row_sums(SimdRows<C, N> rows, uint32_t lane) {
  rows.x[0] = simd_row_sum_scattered(rows, lane);
  MSVD_UNROLL
  for (uint32_t step = 0; step < log2_of_power(N); ++step) {
    const uint32_t h = 1u << step;
    const bool upper = (lane & h) != 0;  // holds the upper h rows of the 2h being joined
    MSVD_UNROLL
    for (uint32_t i = 0; i < N / 2; ++i) {
      if (i >= h) continue;
      const C kept = rows.x[i];
      const C received = shuffle_xor(kept, h);
      rows.x[i + h] = upper ? kept : received;
      rows.x[i] = upper ? received : kept;
    }
  }
  return rows;
}

}  // namespace kernels
}  // namespace metalsvd
