// The tree of the bidiagonal divide and conquer (bidiagonal_dc.h), shared by the host and the
// kernels so that both derive every node from (n, level, index) alone and nothing about the
// tree is stored.
//
// A node is the block of rows [r0, r0 + rows) of the n x n upper bidiagonal B and the columns
// [r0, r0 + rows + sq): square (sq = 0) or one column wider (sq = 1), as LAPACK's xLASD1
// subproblems. A node of N rows splits at its middle row k = r0 + nl, nl = (N - 1) / 2: the left
// child is rows [r0, k) with the columns up to and including k (always one column wider), the
// right child rows [k + 1, r0 + N) with the parent's remaining columns (its sq). The children's
// column ranges partition the parent's, so at every level each column of B belongs to exactly
// one node. Splitting goes on down to nodes of no rows: a node with one row merges two empty
// children, so no separate leaf solver exists. Nodes at one level differ in rows by at most one.
#pragma once

#include "dialect.h"

namespace metalsvd {
namespace kernels {

struct DcNode {
  uint32_t r0;    // first row (and first column)
  uint32_t rows;  // N; 0 for an empty node
  uint32_t sq;    // 1: the node has one column more than rows
};

MSVD_HOST_DEVICE uint32_t dc_left_rows(uint32_t rows) { return rows == 0 ? 0 : (rows - 1) / 2; }
MSVD_HOST_DEVICE uint32_t dc_right_rows(uint32_t rows) {
  return rows == 0 ? 0 : rows - 1 - dc_left_rows(rows);
}
MSVD_HOST_DEVICE uint32_t dc_columns(DcNode node) { return node.rows + node.sq; }

// side 0: left child, 1: right child. The children of an empty node are empty.
MSVD_HOST_DEVICE DcNode dc_child(DcNode node, uint32_t side) {
  DcNode child;
  const uint32_t nl = dc_left_rows(node.rows);
  if (side == 0u) {
    child.r0 = node.r0;
    child.rows = nl;
    child.sq = node.rows == 0 ? node.sq : 1u;
  } else {
    child.r0 = node.rows == 0 ? node.r0 : node.r0 + nl + 1;
    child.rows = dc_right_rows(node.rows);
    child.sq = node.sq;
  }
  return child;
}

// Levels below the root that hold a node with rows: the merges run from level
// dc_levels(n) - 1 up to level 0 (the root).
MSVD_HOST_DEVICE uint32_t dc_levels(uint32_t n) {
  uint32_t levels = 0;
  // The right child is the larger one, so it decides the depth.
  for (uint32_t rows = n; rows > 0; rows = dc_right_rows(rows)) ++levels;
  return levels;
}

// Node `index` (0 .. 2^level - 1, left to right) of `level`.
MSVD_HOST_DEVICE DcNode dc_node_at(uint32_t n, uint32_t level, uint32_t index) {
  DcNode node;
  node.r0 = 0;
  node.rows = n;
  node.sq = 0;
  for (uint32_t bit = level; bit-- > 0;) node = dc_child(node, (index >> bit) & 1u);
  return node;
}

struct DcColumnOwner {
  DcNode node;
  uint32_t index;  // the node's index at its level
};

// The node of `level` whose columns hold column `col` of B.
MSVD_HOST_DEVICE DcColumnOwner dc_node_of_column(uint32_t n, uint32_t level, uint32_t col) {
  DcColumnOwner owner;
  owner.node.r0 = 0;
  owner.node.rows = n;
  owner.node.sq = 0;
  owner.index = 0;
  for (uint32_t l = 0; l < level; ++l) {
    const DcNode left = dc_child(owner.node, 0u);
    const uint32_t side = col < left.r0 + dc_columns(left) ? 0u : 1u;
    owner.node = side == 0u ? left : dc_child(owner.node, 1u);
    owner.index = 2 * owner.index + side;
  }
  return owner;
}

// The most rows of a node at `level`.
MSVD_HOST_DEVICE uint32_t dc_max_rows(uint32_t n, uint32_t level) {
  uint32_t rows = n;
  for (uint32_t l = 0; l < level; ++l) rows = dc_right_rows(rows);
  return rows;
}

}  // namespace kernels
}  // namespace metalsvd
