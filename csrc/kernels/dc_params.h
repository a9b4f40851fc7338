// Parameters and workspace layout of the bidiagonal divide and conquer (bidiagonal_dc.h,
// dc_apply.h), shared by the host and every backend. Fixed-width types, 64-bit members first.
//
// Per matrix, three regions (all arrays indexed by a column of B, n of them):
//   w0, compute type: kDcRealArrays arrays of n values
//   w1, compute type: kDcMatrices n x n column-major matrices (leading dimension n), each kind
//       for the whole batch together (so the GEMMs' operands never share an address range)
//   w2, read as int32: kDcIntArrays arrays of n values
// and io holds the bidiagonal itself: d (n) then e (n - 1) at e_offset, de_stride apart.
// Position p of a node is the index r0 + p of an array, so the nodes of a level never share
// an entry; a node's own scalars sit at index r0.
#pragma once

#include "dialect.h"

namespace metalsvd {
namespace kernels {

enum DcRealArray : uint32_t {
  kDcSigma0 = 0,  // singular values of the nodes, descending; two copies, levels alternate
  kDcSigma1,
  kDcSortedD,    // a merge's d in ascending order (position 0: the 0 of the new column)
  kDcSortedZ,    // and its z, deflated entries zeroed
  kDcKeptD,      // the d of the positions kept for the secular equation
  kDcKeptZ,      // and their z
  kDcRotationC,  // deflation rotations
  kDcRotationS,
  kDcRootMu,     // root j: sigma_j^2 - d_origin^2
  kDcRootSigma,  // root j: sigma_j
  kDcZhat,       // z recomputed from the roots (Loewner), so the vectors are orthogonal
  kDcNodeC,      // at r0: the rotation that merged the children's null columns
  kDcNodeS,
  kDcNodeScale,  // at r0: the power of two the merge was scaled by
  kDcRealArrays
};

enum DcIntArray : uint32_t {
  kDcSourceRow,  // position -> row of the children's block (U side; W side the same but 0)
  kDcOrder,      // kept positions ascending, then the deflated ones ascending
  kDcRotationP,  // deflation rotation r acts on positions p and q
  kDcRotationQ,
  kDcRootOrigin,     // root j: j or j + 1
  kDcRank,           // value index -> column of the node's result (descending)
  kDcNodeKept,       // at r0: values kept for the secular equation (K)
  kDcNodeRotations,  // at r0: deflation rotations
  kDcIntArrays
};

enum DcMatrix : uint32_t {
  kDcU0 = 0,  // the nodes' left singular vectors, block diagonal; two copies
  kDcU1,
  kDcW0,  // right singular vectors (with the null column of nodes one column wider)
  kDcW1,
  kDcQU,  // a merge's vectors in the basis of its children (written per node block)
  kDcQW,
  kDcMatrices
};

struct DcParams {
  int64_t real_stride;    // w0: elements between matrices
  int64_t matrix_stride;  // w1: elements between matrices of one kind (n * n)
  int64_t int_stride;     // w2: int32 elements between matrices
  int64_t de_stride;      // io: elements between matrices' d
  uint32_t batch;
  uint32_t n;
  uint32_t level;
  uint32_t nodes;   // 2^level
  uint32_t parity;  // the copy of sigma, U and W this level writes (it reads the other)
  uint32_t e_offset;
  uint32_t threads;
  uint32_t groups_per_matrix;
  uint32_t tiles;  // dc_apply: 32 x 32 output tiles per product of a node
  uint32_t state_stride;
};

template <typename C>
MSVD_INLINE MSVD_DEVICE C* dc_real(MSVD_CONSTANT const DcParams& p, MSVD_DEVICE C* w0,
                                   uint32_t matrix, uint32_t array) {
  return w0 + static_cast<int64_t>(matrix) * p.real_stride + static_cast<int64_t>(array) * p.n;
}

template <typename C>
MSVD_INLINE MSVD_DEVICE C* dc_matrix(MSVD_CONSTANT const DcParams& p, MSVD_DEVICE C* w1,
                                     uint32_t matrix, uint32_t which) {
  return w1 + (static_cast<int64_t>(which) * p.batch + matrix) * p.matrix_stride;
}

template <typename C>
MSVD_INLINE MSVD_DEVICE int32_t* dc_int(MSVD_CONSTANT const DcParams& p, MSVD_DEVICE C* w2,
                                        uint32_t matrix, uint32_t array) {
  return reinterpret_cast<MSVD_DEVICE int32_t*>(w2) + static_cast<int64_t>(matrix) * p.int_stride +
         static_cast<int64_t>(array) * p.n;
}

}  // namespace kernels
}  // namespace metalsvd
