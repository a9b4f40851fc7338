// Per-matrix result codes written by the SVD kernels into the `info` output.
#pragma once

namespace metalsvd {
namespace kernels {

enum SvdStatus : int {
  kSvdConverged = 0,
  // The sweep limit was reached before every column pair met the tolerance; the result is
  // still an orthogonal decomposition, only less accurate.
  kSvdNotConverged = 1,
  // The input held inf or nan; S, U and V are nan, as LAPACK would not return anything finite.
  kSvdNonFiniteInput = 2,
};

}  // namespace kernels
}  // namespace metalsvd
