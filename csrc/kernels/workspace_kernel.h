// The one signature of the kernels that work on device workspaces (everything but the fused
// Jacobi kernel), so that each backend instantiates all of them through one entry template:
//
//   kernel<P, T, C>(constant P& params, device T* io, device C* w0, device C* w1, device C* w2,
//                   device int32_t* state, device int32_t* info, threadgroup C* scratch, ctx)
//
// io is the user's matrix in its storage type (input or output), w0..w2 are compute-type
// workspaces and state holds per-matrix progress (SvdState). A kernel ignores the buffers it
// does not use; the host binds them anyway so every entry has the same arguments.
#pragma once

#include "dialect.h"

namespace metalsvd {
namespace kernels {

// Whether the kernels of parameters P wait for the previous kernel (wait_for_previous_kernel())
// in their bodies, once in every thread, after loads of data that the previous launch never
// writes. The others wait at their entry, which the CUDA backend's wrapper does for them.
// (An enumerator, not a static data member, which Metal would want in its constant address
// space.)
template <typename P>
struct WaitsInBody {
  enum : bool { value = false };
};

// Per-matrix int32 progress shared by the kernels of one SVD, state_stride entries a matrix.
enum SvdState : uint32_t {
  kStateExponent = 0,   // the input was scaled by 2^-exponent
  kStateStatus = 1,     // SvdStatus
  kStateConverged = 2,  // 1 once a sweep rotated nothing (or the input is not finite)
  kStateCopy = 3,       // block Jacobi: the copy of G and V (0 or 1) holding the current columns
  kStatePolish = 4,     // block Jacobi: 0, or k in the k-th polish sweep (after convergence)
  kStatePairFlags = 5,  // block Jacobi: one flag per block pair, 1 if it rotated this sweep
};

// The elements of a matrix's range that this thread handles when `groups_per_matrix` groups of
// `threads` share it (group g works on matrix g / groups_per_matrix): consecutive threads,
// consecutive elements.
struct StridedRange {
  uint32_t first;
  uint32_t step;
};
MSVD_INLINE StridedRange group_share(uint32_t groups_per_matrix, uint32_t threads,
                                     ThreadContext ctx) {
  StridedRange range;
  range.first = (ctx.group % groups_per_matrix) * threads + ctx.thread_index;
  range.step = groups_per_matrix * threads;
  return range;
}

}  // namespace kernels
}  // namespace metalsvd
