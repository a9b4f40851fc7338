// The vectors of the merges of one divide-and-conquer level (bidiagonal_dc.h): a node's U is
// diag(U_left, 1, U_right) Q_U and its W is diag(W_left, W_right) Q_W, four products of a
// child's square block with rows of the merge matrix. This kernel forms them for levels of
// small nodes, all nodes at once in 32 x 32 output tiles; levels of large nodes take the
// backend's GEMM instead (the same products, core/bidiagonal_dc.cpp). U's middle row is
// dc_vectors'.
#pragma once

#include "dc_params.h"
#include "dc_tree.h"
#include "dialect.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

MSVD_CONSTANT constexpr uint32_t kDcApplyTile = 32;
MSVD_CONSTANT constexpr uint32_t kDcApplyThreads = 256;  // 4 outputs a thread
// Threadgroup memory: two tiles with an odd leading dimension against bank conflicts.
MSVD_CONSTANT constexpr uint32_t kDcApplyTileLd = kDcApplyTile + 1;

// One of the four products of a node: child block rows/columns [first, first + size) (a
// child with no rows but one column has the block [1]: identity), the merge matrix's rows
// [q_row, q_row + size) of its node block, `cols` columns.
struct DcProduct {
  uint32_t first;
  uint32_t size;
  uint32_t q_row;
  uint32_t cols;
  bool identity;
  bool u_side;
};

MSVD_INLINE DcProduct dc_product(DcNode node, uint32_t which) {
  const uint32_t nl = dc_left_rows(node.rows);
  const uint32_t nr = dc_right_rows(node.rows);
  const uint32_t k = node.r0 + nl;
  DcProduct d;
  d.u_side = which < 2;
  d.identity = false;
  d.cols = d.u_side ? node.rows : dc_columns(node);
  if (which == 0) {  // U left
    d.first = node.r0;
    d.size = nl;
    d.q_row = 0;
  } else if (which == 1) {  // U right
    d.first = k + 1;
    d.size = nr;
    d.q_row = nl + 1;
  } else if (which == 2) {  // W left, with its null column
    d.first = node.r0;
    d.size = nl + 1;
    d.q_row = 0;
    d.identity = nl == 0;
  } else {  // W right
    d.first = k + 1;
    d.size = nr + node.sq;
    d.q_row = nl + 1;
    d.identity = nr == 0;
  }
  return d;
}

// Groups: batch x nodes x 4 products x tiles^2 (tiles a side: the level's largest product).
template <typename P, typename T, typename C>
MSVD_INLINE void dc_apply(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C*,
                          MSVD_DEVICE C* w1, MSVD_DEVICE C*, MSVD_DEVICE int32_t*,
                          MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const uint32_t tiles2 = p.tiles * p.tiles;
  const uint32_t tile = ctx.group % tiles2;
  const uint32_t which = (ctx.group / tiles2) % 4;
  const uint32_t node_index = (ctx.group / tiles2 / 4) % p.nodes;
  const uint32_t matrix = ctx.group / tiles2 / 4 / p.nodes;
  const DcNode node = dc_node_at(p.n, p.level, node_index);
  const DcProduct d = dc_product(node, which);
  const uint32_t row0 = (tile / p.tiles) * kDcApplyTile;
  const uint32_t col0 = (tile % p.tiles) * kDcApplyTile;
  if (node.rows == 0 || row0 >= d.size || col0 >= d.cols) return;
  const uint32_t n = p.n;
  const uint32_t prev = p.parity ^ 1u;
  MSVD_DEVICE const C* child = dc_matrix(p, w1, matrix, d.u_side ? kDcU0 + prev : kDcW0 + prev) +
                               static_cast<int64_t>(d.first) * n + d.first;
  MSVD_DEVICE const C* q = dc_matrix(p, w1, matrix, d.u_side ? kDcQU : kDcQW) +
                           static_cast<int64_t>(node.r0) * n + node.r0 + d.q_row;
  MSVD_DEVICE C* out = dc_matrix(p, w1, matrix, d.u_side ? kDcU0 + p.parity : kDcW0 + p.parity) +
                       static_cast<int64_t>(node.r0) * n + d.first;
  const uint32_t tid = ctx.thread_index;
  const uint32_t tx = tid % kDcApplyTile;  // output column within the tile
  const uint32_t ty = tid / kDcApplyTile;  // first of the thread's rows, 8 apart
  MSVD_THREADGROUP C* a_tile = scratch;    // child[row0 + r, k0 + c] at c * ld + r
  MSVD_THREADGROUP C* q_tile = scratch + kDcApplyTile * kDcApplyTileLd;  // q[k0 + r, col0 + c]
  C acc[4];
  MSVD_UNROLL
  for (uint32_t i = 0; i < 4; ++i) acc[i] = C(0);
  for (uint32_t k0 = 0; k0 < d.size; k0 += kDcApplyTile) {
    for (uint32_t idx = tid; idx < kDcApplyTile * kDcApplyTile; idx += kDcApplyThreads) {
      const uint32_t r = idx % kDcApplyTile;
      const uint32_t c = idx / kDcApplyTile;
      C a = C(0);
      if (row0 + r < d.size && k0 + c < d.size)
        a = d.identity ? (row0 + r == k0 + c ? C(1) : C(0))
                       : child[static_cast<int64_t>(k0 + c) * n + row0 + r];
      a_tile[c * kDcApplyTileLd + r] = a;
      C b = C(0);
      if (k0 + r < d.size && col0 + c < d.cols) b = q[static_cast<int64_t>(col0 + c) * n + k0 + r];
      q_tile[c * kDcApplyTileLd + r] = b;
    }
    group_barrier();
    for (uint32_t kk = 0; kk < kDcApplyTile; ++kk) {
      const C b = q_tile[tx * kDcApplyTileLd + kk];
      MSVD_UNROLL
      for (uint32_t i = 0; i < 4; ++i) acc[i] += a_tile[kk * kDcApplyTileLd + ty + 8 * i] * b;
    }
    group_barrier();
  }
  MSVD_UNROLL
  for (uint32_t i = 0; i < 4; ++i) {
    const uint32_t r = row0 + ty + 8 * i;
    if (r < d.size && col0 + tx < d.cols) out[static_cast<int64_t>(col0 + tx) * n + r] = acc[i];
  }
}

}  // namespace kernels
}  // namespace metalsvd
