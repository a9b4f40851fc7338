// Dot products as accurate as if summed in twice the working precision and rounded once
// (Ogita, Rump and Oishi, "Accurate sum and dot product", 2005, Algorithm Dot2): the rounding
// error of each product is recovered exactly with a fused multiply-add, that of each addition
// with Knuth's TwoSum, and the errors are summed on the side. About five times the work of a
// plain dot product; for sums that cancel to far below their terms, as W^T W - I does.
#pragma once

#include "dialect.h"

namespace metalsvd {
namespace kernels {

// start + sum_k x[k * x_stride] y[k * y_stride] over k < n, in threadgroup memory. TwoSum needs
// every addition rounded as written: the Metal library is built without fast math, and a
// multiply-add contracted by the compiler only moves error between the two sums.
template <typename C>
MSVD_INLINE C compensated_dot(MSVD_THREADGROUP const C* x, uint32_t x_stride,
                              MSVD_THREADGROUP const C* y, uint32_t y_stride, uint32_t n, C start) {
  C sum = start;
  C error = C(0);
  for (uint32_t k = 0; k < n; ++k) {
    const C a = x[k * x_stride];
    const C b = y[k * y_stride];
    const C product = a * b;
    const C product_error = math_fma(a, b, -product);
    const C next = sum + product;
    const C moved = next - sum;
    const C sum_error = (sum - (next - moved)) + (product - moved);
    sum = next;
    error += product_error + sum_error;
  }
  return sum + error;
}

}  // namespace kernels
}  // namespace metalsvd
