// Dot products as accurate as if summed in twice the working precision and rounded once
// (Ogita, Rump and Oishi, "Accurate sum and dot product", 2005, Algorithm Dot2): the rounding
// error of each product is recovered exactly with a fused multiply-add, that of each addition
// with Knuth's TwoSum, and the errors are summed on the side. About five times the work of a
// plain dot product; for sums that cancel to far below their terms, as W^T W - I and the Gram
// entries of nearly orthogonal columns do.
#pragma once

#include "dialect.h"

namespace metalsvd {
namespace kernels {

// A sum and the rounding errors of the additions and products that went into it: their sum is
// the result. Returned by value (the dialect has no references to thread memory).
template <typename C>
struct CompensatedSum {
  C sum;
  C error;
};

// acc + a * b, with the rounding error of the product (exact, by a fused multiply-add) and of the
// addition (exact, TwoSum) added to acc.error. TwoSum needs every addition rounded as written:
// the Metal library is built without fast math, and a multiply-add contracted by the compiler
// only moves error between the two sums.
template <typename C>
MSVD_INLINE CompensatedSum<C> compensated_fma(CompensatedSum<C> acc, C a, C b) {
  const C product = a * b;
  const C product_error = math_fma(a, b, -product);
  const C next = acc.sum + product;
  const C moved = next - acc.sum;
  const C sum_error = (acc.sum - (next - moved)) + (product - moved);
  CompensatedSum<C> out;
  out.sum = next;
  out.error = acc.error + (product_error + sum_error);
  return out;
}

// start + sum_k x[k] y[k] over k < n, in threadgroup memory.
template <typename C>
MSVD_INLINE C compensated_dot(MSVD_THREADGROUP const C* x, MSVD_THREADGROUP const C* y, uint32_t n,
                              C start) {
  CompensatedSum<C> acc;
  acc.sum = start;
  acc.error = C(0);
  for (uint32_t k = 0; k < n; ++k) acc = compensated_fma(acc, x[k], y[k]);
  return acc.sum + acc.error;
}

}  // namespace kernels
}  // namespace metalsvd
