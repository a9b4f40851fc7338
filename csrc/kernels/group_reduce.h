// Threadgroup-wide reductions built from SIMD reductions and a small threadgroup buffer.
// Every thread of the group must call them (they contain barriers) and gets the result.
#pragma once

#include "dialect.h"

namespace metalsvd {
namespace kernels {

// `partials` holds at least kSimdWidth elements; it is free again when the call returns.
template <typename C>
MSVD_INLINE C group_reduce_max(C x, MSVD_THREADGROUP C* partials, ThreadContext ctx,
                               uint32_t threads) {
  x = simd_reduce_max(x);
  if (ctx.lane == 0) partials[ctx.simd_group] = x;
  group_barrier();
  C result = partials[0];
  for (uint32_t g = 1; g < threads / kSimdWidth; ++g) result = math_max(result, partials[g]);
  group_barrier();
  return result;
}

template <typename C>
MSVD_INLINE C group_reduce_sum(C x, MSVD_THREADGROUP C* partials, ThreadContext ctx,
                               uint32_t threads) {
  x = simd_reduce_sum(x);
  if (ctx.lane == 0) partials[ctx.simd_group] = x;
  group_barrier();
  C result = partials[0];
  for (uint32_t g = 1; g < threads / kSimdWidth; ++g) result += partials[g];
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
