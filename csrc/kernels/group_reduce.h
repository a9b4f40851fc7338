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

}  // namespace kernels
}  // namespace metalsvd
