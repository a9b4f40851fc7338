// Parameters of the blocked one-sided Jacobi kernels (block_jacobi.h), shared by the host and
// every backend. Fixed-width types, 64-bit members first.
//
// Workspaces, per matrix, column-major:
//   w0: two copies of G (rows x padded_cols, leading dimension ldg): a round reads one and
//       writes the other, already in the block order of the next round
//   w1: two copies of V (padded_cols x padded_cols, leading dimension ldv), likewise
//   w2, for the sweep kernels: partial Gram matrices [matrix][pair][split][width][width] at 0,
//       then rotations [matrix][pair][width][width] at rotation_offset (column-major W), so
//       that the pairs of a whole batch are one strided batch for the backend GEMM
//   w2, for the finalize kernels: V (cols x cols, ld cols), S and scratch per matrix,
//       finalize_batch_stride apart (then, with the float64 refinement, its sums)
// Column block s (of `block` columns) sits in slot s; block pair k is slots 2k and 2k+1, so
// its 2 * block columns are adjacent, and the pairs of all matrices are equally far apart.
#pragma once

#include "dialect.h"

namespace metalsvd {
namespace kernels {

struct BlockJacobiParams {
  int64_t g_batch_stride;   // elements between matrices within one copy of G
  int64_t g_parity_stride;  // elements between the two copies of G
  int64_t v_batch_stride;
  int64_t v_parity_stride;
  int64_t rotation_offset;        // sweep kernels: elements from w2 to the rotations
  int64_t finalize_batch_stride;  // finalize kernels: elements between matrices in w2
  int64_t u_batch_stride;         // finalize: U (io), leading dimension ldu
  uint32_t batch;
  uint32_t rows;         // rows of G
  uint32_t cols;         // columns of the problem; padded_cols - cols zero columns follow
  uint32_t padded_cols;  // 2 * pairs * block
  uint32_t block;
  uint32_t pairs;
  uint32_t ldg;
  uint32_t ldv;
  uint32_t gram_splits;  // row ranges a pair's Gram matrix is summed over, one group each
  // 1 in a sweep whose Gram matrices and rotations are backend GEMMs: they cannot skip a
  // converged matrix, so the eigensolver gives it the identity, block_jacobi_permute moves the
  // blocks, and the sweep leaves the columns in the copy it found them in.
  uint32_t gemm_sweep;
  uint32_t round;         // round within the sweep, 0 .. 2 * pairs - 2
  uint32_t src_parity;    // the copy of G and V the round reads
  uint32_t inner_sweeps;  // most sweeps of the pair eigensolver per round
  uint32_t state_stride;
  uint32_t threads;
  uint32_t row_tile;  // rotate: rows of G or V one group updates
  uint32_t g_tiles;   // rotate: groups per pair on G; then v_tiles on V
  uint32_t v_tiles;
  uint32_t ldu;                // finalize: leading dimension of U
  uint32_t u_rows;             // finalize: rows of U written (rows beyond `rows` are zero)
  uint32_t v_offset;           // finalize: elements from a matrix's w2 to V
  uint32_t s_offset;           // finalize: to S (cols)
  uint32_t scratch_offset;     // finalize: to 3 padded_cols + max(rows, padded_cols) scratch
  uint32_t groups_per_matrix;  // finalize kernels that split a matrix over groups
  uint32_t refine_offset;      // refinement: elements from a matrix's w2 to its float64 sums
  uint32_t refine_row_blocks;  // refinement: row blocks of G0 (block_jacobi_refine.h)
  uint32_t polish_sweeps;      // sweeps after convergence with the tight test (block_jacobi.h)
};

// Slot that block `slot` moves to for the next round of the circle method: slot 0 stays, the
// others advance one place along t1 .. t(p-1), b(p-1) .. b0 (t_k = slot 2k, b_k = 2k + 1). After
// 2p - 1 rounds every block met every other once and all are back where they started.
MSVD_HOST_DEVICE uint32_t circle_next_slot(uint32_t slot, uint32_t pairs) {
  if (slot == 0) return 0;
  const uint32_t cycle = 2 * pairs - 1;
  const uint32_t position = (slot & 1u) == 0u ? slot / 2 - 1 : 2 * pairs - 2 - (slot - 1) / 2;
  const uint32_t next = position + 1 == cycle ? 0 : position + 1;
  return next < pairs - 1 ? 2 * (next + 1) : 2 * (2 * pairs - 2 - next) + 1;
}

}  // namespace kernels
}  // namespace metalsvd
