// Threadgroup-wide reductions built from SIMD reductions and a small threadgroup buffer.
// Every thread of the group must call them (they contain barriers) and gets the result.
#pragma once

#include "dialect.h"

namespace metalsvd {
namespace kernels {

// `partials` holds at least kSimdWidth elements; it is free again when the call returns. Every
// SIMD group reduces the SIMD groups' partials itself, a lane each (a group has at most
// kSimdWidth of them, 1024 threads): a few shuffles, where one thread adding them in turn waited
// on every add. Each SIMD group does the same operations on the same values, so every thread
// gets the same result, bit for bit.
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
  const C result = simd_reduce_sum(ctx.lane < threads / kSimdWidth ? partials[ctx.lane] : C(0));
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
