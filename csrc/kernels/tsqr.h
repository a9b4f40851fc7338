// One Householder panel (at most kTsqrMaxWidth columns) of a tall matrix by tall-skinny QR with
// the Householder vectors reconstructed (Ballard, Demmel, Grigori, Jacquelin, Knight and Nguyen,
// "Reconstructing Householder vectors from tall-skinny QR", 2015): a panel is a few launches
// however tall it is, where a Householder reflector spread over several groups is a launch
// each (its norm needs a grid-wide barrier before its use).
//
// The panel's rows are split into leaves of at most tile_rows rows; each is factored in
// threadgroup memory, with its reflectors' T factor (H = I - V T V^T), and the leaves' R
// factors, stacked, are factored the same way by the nodes of a tree (tile_rows / width children
// a node) up to one root. The explicit Q of the panel then comes back down the tree: every node
// forms X = H [C; 0] = [C; 0] - V (T (V1^T C)) from the C its parent handed it (the identity at
// the root; V1: V's first width rows), a thread a row of X, and hands each child its rows of X.
// Finally the LU
// factorisation Q - S = Y U with S = diag(+-1) chosen so that every pivot has magnitude >= 1
// gives the reflectors Y of the panel's Householder QR, its T = -U S Y1^-T (Y1: Y's first
// width rows) and R = S R_root, in the layout the blocked QR applies (householder.h):
//   tsqr_factor       a group a tile (leaves of the panel, or nodes over a stack of R factors):
//                     Householder QR in threadgroup memory, the reflectors back in place, their
//                     T factor, and the tile's R into the next level's stack
//   tsqr_expand       a group a node, root first: X = H [C; 0], the children's C
//   tsqr_reconstruct  a group a matrix: X of leaf 0, the LU of its first width rows with the
//                     signs, T, R (into the panel's first rows) and leaf 0's rows of Y
//   tsqr_leaf_y       a group for each other leaf: X, then its rows of Y = X U^-1
// Every tile has at least `width` rows (the host splits evenly, tile_rows >= 2 width), so no
// tile needs padding. A zero column gives tau = 0 and the reconstruction still holds: the
// explicit Q is orthonormal whatever the panel's rank.
#pragma once

#include "dialect.h"
#include "householder.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

MSVD_CONSTANT constexpr uint32_t kTsqrMaxWidth = kHouseholderMaxPanel;
// The most rows of a tile a lane walks (a tile has at most kTsqrLaneRows kSimdWidth rows): the
// walks are unrolled to that many predicated steps, so that a lane's loads are all in flight
// at once rather than one a loop iteration.
MSVD_CONSTANT constexpr uint32_t kTsqrLaneRows = 32;
// c_offset's value for the root, whose C is the identity.
MSVD_CONSTANT constexpr uint32_t kTsqrIdentity = 0xffffffffu;

// The tree's scratch lives in each matrix's w2 region (the factorisation's T factors come
// first); offsets are elements from the start of a matrix's region. A stack (the R factors of
// a level's tiles, or the C handed to them) is column-major, width columns, with a leading
// dimension of (tiles of the level below) x width.
struct TsqrParams {
  int64_t a_batch_stride;  // w0: the matrix whose panel is factored
  int64_t y_batch_stride;  // w1: Y, where the panel's reflectors go
  int64_t t_batch_stride;  // w2: T factors and the tree's scratch, per matrix
  int64_t a_row_stride;    // w0 starts at the panel's (0, 0); (r, c) at r a_row_stride +
  int64_t a_col_stride;    // c a_col_stride
  uint32_t y_ld;           // w1 starts at the panel's (0, 0), column-major
  uint32_t batch;
  uint32_t rows;        // the panel's rows
  uint32_t width;       // its columns
  uint32_t tile_rows;   // the most rows a tile has (the leading dimension in threadgroup memory)
  uint32_t threads;     // whole SIMD groups
  uint32_t units;       // what this launch's tiles split: rows (leaves) or children (nodes)
  uint32_t tiles;       // tiles a matrix in this launch
  uint32_t from_stack;  // 1: the tiles are R factors in the stack at stack_offset; 0: the panel
  uint32_t stack_offset;
  uint32_t tile_t_offset;  // this level's T factors, width x width a tile (leading dimension w)
  uint32_t out_offset;     // factor: the next level's stack; expand: the children's C
  uint32_t c_offset;       // this level's C (same layout as its stack), or kTsqrIdentity
  uint32_t r_offset;       // reconstruct: the root's R, width x width, leading dimension width
  uint32_t t_offset;       // the panel's T, width x width, leading dimension width
  uint32_t u_offset;       // U (width x width, leading dimension width), then the signs (width)
};

// Threadgroup memory of every TSQR kernel: a tile, then width^2 + width more (a w x w block:
// the Gram matrix of the reflectors, W of the expansion or U; then the taus or the signs).
MSVD_HOST_DEVICE uint32_t tsqr_scratch_elements(uint32_t tile_rows, uint32_t width) {
  return tile_rows * width + width * width + width;
}

// The first unit of tile t when `units` are split evenly over `tiles`.
MSVD_HOST_DEVICE uint32_t tsqr_split(uint32_t units, uint32_t tiles, uint32_t t) {
  return static_cast<uint32_t>(static_cast<uint64_t>(t) * units / tiles);
}

// A tile's rows [begin, end) of the matrix it is read from, whose (r, c) is at
// base[r row_stride + c col_stride].
template <typename C>
struct TsqrTile {
  MSVD_DEVICE C* base;
  int64_t row_stride;
  int64_t col_stride;
  uint32_t begin;
  uint32_t end;
};

// Tile t of this launch for `matrix`: rows of the panel (leaves) or of the stack (nodes).
template <typename P, typename C>
MSVD_INLINE TsqrTile<C> tsqr_tile(MSVD_CONSTANT const P& p, MSVD_DEVICE C* w0, MSVD_DEVICE C* w2,
                                  uint32_t matrix, uint32_t t) {
  TsqrTile<C> tile;
  const uint32_t first = tsqr_split(p.units, p.tiles, t);
  const uint32_t last = tsqr_split(p.units, p.tiles, t + 1);
  if (p.from_stack != 0) {
    tile.base = w2 + static_cast<int64_t>(matrix) * p.t_batch_stride + p.stack_offset;
    tile.row_stride = 1;
    tile.col_stride = static_cast<int64_t>(p.units) * p.width;
    tile.begin = first * p.width;
    tile.end = last * p.width;
  } else {
    tile.base = w0 + static_cast<int64_t>(matrix) * p.a_batch_stride;
    tile.row_stride = p.a_row_stride;
    tile.col_stride = p.a_col_stride;
    tile.begin = first;
    tile.end = last;
  }
  return tile;
}

template <typename C>
MSVD_INLINE MSVD_DEVICE C* tsqr_at(TsqrTile<C> tile, uint32_t r, uint32_t c) {
  return tile.base + (tile.begin + r) * tile.row_stride + c * tile.col_stride;
}

// This matrix's w2 region.
template <typename P, typename C>
MSVD_INLINE MSVD_DEVICE C* tsqr_region(MSVD_CONSTANT const P& p, MSVD_DEVICE C* w2,
                                       uint32_t matrix) {
  return w2 + static_cast<int64_t>(matrix) * p.t_batch_stride;
}

// The Householder reflector of column c of the tile x (rows x width, leading dimension ld, in
// threadgroup memory) from its rows >= c, as LAPACK's xLARFG: beta at (c, c), the scaled vector
// below it, tau into taus[c]. One SIMD group calls it; each lane touches only the rows
// r = lane (mod kSimdWidth), the rows it updates everywhere else, so no lane reads another's
// unsynchronised store (alpha comes by a reduction, exact: one term is not zero).
template <typename C>
MSVD_INLINE void tsqr_reflector(MSVD_THREADGROUP C* x, uint32_t ld, uint32_t rows, uint32_t c,
                                MSVD_THREADGROUP C* taus, uint32_t lane) {
  MSVD_THREADGROUP C* col = x + c * ld;
  C alpha_part = C(0);
  C below = C(0);
  MSVD_UNROLL
  for (uint32_t i = 0; i < kTsqrLaneRows; ++i) {
    const uint32_t r = lane + i * kSimdWidth;
    const C v = r < rows ? col[r] : C(0);
    if (r == c)
      alpha_part = v;
    else if (r > c)
      below += v * v;
  }
  const C alpha = simd_reduce_sum(alpha_part);
  below = simd_reduce_sum(below);
  const Reflector<C> h = householder_reflector(alpha, below);
  MSVD_UNROLL
  for (uint32_t i = 0; i < kTsqrLaneRows; ++i) {
    const uint32_t r = lane + i * kSimdWidth;
    if (r >= rows) continue;
    if (r == c)
      col[r] = h.beta;
    else if (r > c)
      col[r] *= h.scale;
  }
  if (lane == 0) taus[c] = h.tau;
}

// col <- (I - tau v v^T) col over rows >= j, v = (1 at j, v[r] below it): the tile's reflector
// j; one SIMD group, lane-owned rows as in tsqr_reflector.
template <typename C>
MSVD_INLINE void tsqr_apply_reflector(MSVD_THREADGROUP C* col, uint32_t rows, uint32_t j, C tau,
                                      MSVD_THREADGROUP const C* v, uint32_t lane) {
  C dot = C(0);
  MSVD_UNROLL
  for (uint32_t i = 0; i < kTsqrLaneRows; ++i) {
    const uint32_t r = lane + i * kSimdWidth;
    if (r >= rows) continue;
    if (r == j)
      dot += col[r];
    else if (r > j)
      dot += v[r] * col[r];
  }
  dot = simd_reduce_sum(dot) * tau;
  MSVD_UNROLL
  for (uint32_t i = 0; i < kTsqrLaneRows; ++i) {
    const uint32_t r = lane + i * kSimdWidth;
    if (r >= rows) continue;
    if (r == j)
      col[r] -= dot;
    else if (r > j)
      col[r] -= dot * v[r];
  }
}

// Householder QR of the tile x in place: R on and above the diagonal, reflector j below it,
// tau_j in taus[j]. SIMD group q owns columns q, q + warps, ...: it forms their dots with a
// reflector and updates them itself, and the owner of column j + 1 forms that column's
// reflector as soon as it has updated it, so a step needs one barrier.
template <typename C>
MSVD_INLINE void tsqr_tile_qr(MSVD_THREADGROUP C* x, uint32_t ld, uint32_t rows, uint32_t width,
                              MSVD_THREADGROUP C* taus, uint32_t warps, ThreadContext ctx) {
  if (ctx.simd_group == 0) tsqr_reflector(x, ld, rows, 0u, taus, ctx.lane);
  group_barrier();
  for (uint32_t j = 0; j + 1 < width; ++j) {
    const C tau = taus[j];
    MSVD_THREADGROUP const C* v = x + j * ld;
    for (uint32_t c = ctx.simd_group; c < width; c += warps) {
      if (c <= j) continue;
      if (tau != C(0)) tsqr_apply_reflector(x + c * ld, rows, j, tau, v, ctx.lane);
      if (c == j + 1) tsqr_reflector(x, ld, rows, c, taus, ctx.lane);
    }
    group_barrier();
  }
}

// Entry (r, k) of the tile's reflector k (unit lower trapezoidal), which tsqr_factor left below
// the diagonal of the tile in device memory.
template <typename C>
MSVD_INLINE C tsqr_v(TsqrTile<C> tile, uint32_t r, uint32_t k) {
  return r > k ? *tsqr_at(tile, r, k) : (r == k ? C(1) : C(0));
}

// x = H [C; 0] = [C; 0] - V W over the tile's rows, W = T (V1^T C), C the width x width block at
// `c_block` (leading dimension c_ld) or the identity, T the tile's (leading dimension width).
// M = V1^T C goes to x's first width^2 elements and W to `w_block`, a thread an entry; then a
// thread a row of x, its row of V in registers: no reflector waits on another's reduction.
// Ends with a barrier.
template <typename C>
MSVD_INLINE void tsqr_tile_expand(TsqrTile<C> tile, MSVD_DEVICE const C* t_factor,
                                  MSVD_DEVICE const C* c_block, uint32_t c_ld, bool identity,
                                  MSVD_THREADGROUP C* x, uint32_t ld, uint32_t width,
                                  MSVD_THREADGROUP C* w_block, uint32_t threads, uint32_t tid) {
  const uint32_t rows = tile.end - tile.begin;
  const uint32_t w = width;
  MSVD_THREADGROUP C* m = x;
  for (uint32_t idx = tid; idx < w * w; idx += threads) {
    const uint32_t k = idx % w;
    const uint32_t c = idx / w;
    C sum = C(0);
    if (identity)
      sum = tsqr_v(tile, c, k);
    else
      for (uint32_t i = k; i < w; ++i) sum += tsqr_v(tile, i, k) * c_block[i + c * c_ld];
    m[idx] = sum;
  }
  group_barrier();
  for (uint32_t idx = tid; idx < w * w; idx += threads) {
    const uint32_t k = idx % w;
    const uint32_t c = idx / w;
    C sum = C(0);
    for (uint32_t q = k; q < w; ++q) sum += t_factor[k + q * w] * m[q + c * w];
    w_block[idx] = sum;
  }
  group_barrier();
  for (uint32_t r = tid; r < rows; r += threads) {
    C v[kTsqrMaxWidth];
    MSVD_UNROLL
    for (uint32_t k = 0; k < kTsqrMaxWidth; ++k) v[k] = k < w ? tsqr_v(tile, r, k) : C(0);
    for (uint32_t c = 0; c < w; ++c) {
      C sum = r < w ? (identity ? (r == c ? C(1) : C(0)) : c_block[r + c * c_ld]) : C(0);
      MSVD_UNROLL
      for (uint32_t k = 0; k < kTsqrMaxWidth; ++k)
        if (k < w) sum -= v[k] * w_block[k + c * w];
      x[r + c * ld] = sum;
    }
  }
  group_barrier();
}

// X = H [C; 0] of tile t at this launch's level, into x (see tsqr_tile_expand).
template <typename P, typename C>
MSVD_INLINE TsqrTile<C> tsqr_expand_tile(MSVD_CONSTANT const P& p, MSVD_DEVICE C* w0,
                                         MSVD_DEVICE C* w2, uint32_t matrix, uint32_t t,
                                         MSVD_THREADGROUP C* x, MSVD_THREADGROUP C* w_block,
                                         ThreadContext ctx) {
  const TsqrTile<C> tile = tsqr_tile(p, w0, w2, matrix, t);
  MSVD_DEVICE C* region = tsqr_region(p, w2, matrix);
  const bool identity = p.c_offset == kTsqrIdentity;
  MSVD_DEVICE const C* c_block = identity ? region : region + p.c_offset + t * p.width;
  tsqr_tile_expand(tile, region + p.tile_t_offset + t * p.width * p.width, c_block,
                   p.tiles * p.width, identity, x, p.tile_rows, p.width, w_block, p.threads,
                   ctx.thread_index);
  return tile;
}

// The T factor of the tile's reflectors (x: the factored tile, taus their taus) into t_out
// (leading dimension width), by LAPACK's xLARFT: T(i, j) = -tau_j sum_{k=i}^{j-1} T(i, k) G(k, j)
// with G = V^T V, whose upper triangle goes to `gram` first (a SIMD group a pair at a time).
// Row i of T depends on nothing but row i and G, so lane i of SIMD group 0 forms it in
// registers.
template <typename C>
MSVD_INLINE void tsqr_tile_t(MSVD_THREADGROUP const C* x, uint32_t ld, uint32_t rows,
                             uint32_t width, MSVD_THREADGROUP const C* taus,
                             MSVD_THREADGROUP C* gram, MSVD_DEVICE C* t_out, uint32_t warps,
                             ThreadContext ctx) {
  const uint32_t w = width;
  for (uint32_t pair = ctx.simd_group; pair < w * w; pair += warps) {
    const uint32_t k = pair % w;
    const uint32_t j = pair / w;
    if (k >= j) continue;  // uniform over the SIMD group
    // v_k . v_j over rows >= j: v_j is 1 at j and zero above it.
    C sum = C(0);
    MSVD_UNROLL
    for (uint32_t i = 0; i < kTsqrLaneRows; ++i) {
      const uint32_t r = ctx.lane + i * kSimdWidth;
      if (r >= j && r < rows) sum += x[r + k * ld] * (r == j ? C(1) : x[r + j * ld]);
    }
    sum = simd_reduce_sum(sum);
    if (ctx.lane == 0) gram[k + j * w] = sum;
  }
  group_barrier();
  if (ctx.simd_group == 0) {
    const uint32_t i = ctx.lane;
    C row[kTsqrMaxWidth];
    MSVD_UNROLL
    for (uint32_t j = 0; j < kTsqrMaxWidth; ++j) {
      C value = C(0);
      if (i < w && j < w && j >= i) {
        if (j == i) {
          value = taus[i];
        } else {
          MSVD_UNROLL
          for (uint32_t k = 0; k < kTsqrMaxWidth; ++k)
            if (k >= i && k < j) value += row[k] * gram[k + j * w];
          value *= -taus[j];
        }
      }
      row[j] = value;
      if (i < w && j < w) t_out[i + j * w] = value;
    }
  }
}

// Groups: batch x tiles. Scratch: tsqr_scratch_elements.
template <typename P, typename T, typename C>
MSVD_INLINE void tsqr_factor(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                             MSVD_DEVICE C*, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                             MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.tiles;
  const uint32_t t = ctx.group % p.tiles;
  const uint32_t w = p.width;
  const uint32_t ld = p.tile_rows;
  const TsqrTile<C> tile = tsqr_tile(p, w0, w2, matrix, t);
  const uint32_t rows = tile.end - tile.begin;
  MSVD_THREADGROUP C* x = scratch;
  MSVD_THREADGROUP C* taus = scratch + ld * w + w * w;
  // Consecutive threads along whichever dimension is contiguous in memory.
  const bool rows_contiguous = tile.row_stride == 1;
  for (uint32_t idx = ctx.thread_index; idx < rows * w; idx += p.threads) {
    const uint32_t r = rows_contiguous ? idx % rows : idx / w;
    const uint32_t c = rows_contiguous ? idx / rows : idx % w;
    x[r + c * ld] = *tsqr_at(tile, r, c);
  }
  group_barrier();
  tsqr_tile_qr(x, ld, rows, w, taus, p.threads / kSimdWidth, ctx);
  MSVD_DEVICE C* region = tsqr_region(p, w2, matrix);
  for (uint32_t idx = ctx.thread_index; idx < rows * w; idx += p.threads) {
    const uint32_t r = rows_contiguous ? idx % rows : idx / w;
    const uint32_t c = rows_contiguous ? idx / rows : idx % w;
    *tsqr_at(tile, r, c) = x[r + c * ld];
  }
  // R, zeros below its diagonal, into rows [t w, (t + 1) w) of the next level's stack.
  MSVD_DEVICE C* r_out = region + p.out_offset + t * w;
  const uint32_t out_ld = p.tiles * w;
  for (uint32_t idx = ctx.thread_index; idx < w * w; idx += p.threads) {
    const uint32_t r = idx % w;
    const uint32_t c = idx / w;
    r_out[r + c * out_ld] = r <= c ? x[r + c * ld] : C(0);
  }
  tsqr_tile_t(x, ld, rows, w, taus, scratch + ld * w, region + p.tile_t_offset + t * w * w,
              p.threads / kSimdWidth, ctx);
}

// Groups: batch x tiles (the nodes of one level). Scratch: tsqr_scratch_elements.
template <typename P, typename T, typename C>
MSVD_INLINE void tsqr_expand(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                             MSVD_DEVICE C*, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                             MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.tiles;
  const uint32_t t = ctx.group % p.tiles;
  MSVD_THREADGROUP C* x = scratch;
  const TsqrTile<C> tile =
      tsqr_expand_tile(p, w0, w2, matrix, t, x, scratch + p.tile_rows * p.width, ctx);
  // The children's C are this tile's rows of X, consecutive lanes storing consecutive rows.
  const uint32_t warps = p.threads / kSimdWidth;
  MSVD_DEVICE C* out = tsqr_region(p, w2, matrix) + p.out_offset;
  const uint32_t out_ld = p.units * p.width;
  for (uint32_t c = ctx.simd_group; c < p.width; c += warps)
    for (uint32_t r = ctx.lane; r < tile.end - tile.begin; r += kSimdWidth)
      out[tile.begin + r + c * out_ld] = x[r + c * p.tile_rows];
}

// Rows of the tile x (from `first` on) solved against U in place: y U = x, a thread a row.
template <typename C>
MSVD_INLINE void tsqr_solve_rows(MSVD_THREADGROUP C* x, uint32_t ld, uint32_t first, uint32_t rows,
                                 uint32_t width, MSVD_THREADGROUP const C* u, uint32_t u_ld,
                                 uint32_t threads, uint32_t tid) {
  for (uint32_t r = first + tid; r < rows; r += threads)
    for (uint32_t c = 0; c < width; ++c) {
      C sum = x[r + c * ld];
      for (uint32_t q = 0; q < c; ++q) sum -= x[r + q * ld] * u[q + c * u_ld];
      x[r + c * ld] = sum / u[c + c * u_ld];
    }
}

// Rows [first, rows) of the tile x to Y, rows of the panel from `panel_row`: each SIMD group
// stores a column at a time, so consecutive lanes store consecutive rows.
template <typename P, typename C>
MSVD_INLINE void tsqr_store_y(MSVD_CONSTANT const P& p, MSVD_DEVICE C* w1, uint32_t matrix,
                              MSVD_THREADGROUP const C* x, uint32_t first, uint32_t rows,
                              uint32_t panel_row, ThreadContext ctx) {
  MSVD_DEVICE C* y = w1 + static_cast<int64_t>(matrix) * p.y_batch_stride;
  const uint32_t warps = p.threads / kSimdWidth;
  for (uint32_t c = ctx.simd_group; c < p.width; c += warps)
    for (uint32_t r = first + ctx.lane; r < rows; r += kSimdWidth)
      y[panel_row + r + static_cast<int64_t>(c) * p.y_ld] = x[r + c * p.tile_rows];
}

// Groups: batch. Leaf 0's X, the LU Q1 - S = Y1 U with the signs, T, R and leaf 0's rows of Y;
// U and the signs to u_offset for tsqr_leaf_y. Scratch: tsqr_scratch_elements.
template <typename P, typename T, typename C>
MSVD_INLINE void tsqr_reconstruct(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                  MSVD_DEVICE C* w1, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                                  MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                  ThreadContext ctx) {
  const uint32_t matrix = ctx.group;
  const uint32_t tid = ctx.thread_index;
  const uint32_t w = p.width;
  const uint32_t ld = p.tile_rows;
  MSVD_THREADGROUP C* x = scratch;
  MSVD_THREADGROUP C* signs = scratch + ld * w + w * w;
  const TsqrTile<C> tile = tsqr_expand_tile(p, w0, w2, matrix, 0u, x, scratch + ld * w, ctx);
  const uint32_t rows = tile.end - tile.begin;
  // Right-looking LU of x's first w rows in place. Step i: every thread reads the pivot, the
  // trailing block is updated with multipliers formed on the fly, and column i is scaled only
  // after the barrier (no later step reads it before its own barrier), so a step is one
  // barrier. The sign makes |pivot| = |q_ii| + 1 >= 1: no pivoting is needed.
  for (uint32_t i = 0; i < w; ++i) {
    const C pivot = x[i + i * ld];
    const C s = pivot >= C(0) ? C(-1) : C(1);
    const C u_ii = pivot - s;
    for (uint32_t idx = tid; idx < w * w; idx += p.threads) {
      const uint32_t r = idx % w;
      const uint32_t c = idx / w;
      if (r > i && c > i) x[r + c * ld] -= x[r + i * ld] / u_ii * x[i + c * ld];
    }
    group_barrier();
    if (tid < w) {
      if (tid > i) x[tid + i * ld] /= u_ii;
      if (tid == i) {
        x[i + i * ld] = u_ii;
        signs[i] = s;
      }
    }
  }
  group_barrier();
  MSVD_DEVICE C* region = tsqr_region(p, w2, matrix);
  // T = -U S Y1^-T, a thread a row i: T Y1^T = M (M = -U S, upper triangular) is forward
  // substitution along the row, Y1 unit lower triangular, the row held in registers.
  MSVD_DEVICE C* t_out = region + p.t_offset;
  if (tid < kSimdWidth) {
    const uint32_t i = tid;
    C row[kTsqrMaxWidth];
    MSVD_UNROLL
    for (uint32_t c = 0; c < kTsqrMaxWidth; ++c) {
      C value = C(0);
      if (i < w && c < w && c >= i) {
        value = -x[i + c * ld] * signs[c];
        MSVD_UNROLL
        for (uint32_t q = 0; q < kTsqrMaxWidth; ++q)
          if (q >= i && q < c) value -= x[c + q * ld] * row[q];
      }
      row[c] = value;
      if (i < w && c < w) t_out[i + c * w] = value;
    }
  }
  // U and the signs for the other leaves; R = S R_root into the panel's first rows.
  MSVD_DEVICE C* u_out = region + p.u_offset;
  MSVD_DEVICE const C* r_root = region + p.r_offset;
  for (uint32_t idx = tid; idx < w * w; idx += p.threads) {
    const uint32_t r = idx % w;
    const uint32_t c = idx / w;
    u_out[r + c * w] = r <= c ? x[r + c * ld] : C(0);
    if (r <= c) *tsqr_at(tile, r, c) = signs[r] * r_root[r + c * w];
  }
  if (tid < w) u_out[w * w + tid] = signs[tid];
  // Y: the unit lower triangle of the LU in the first w rows, X U^-1 below.
  tsqr_solve_rows(x, ld, w, rows, w, x, ld, p.threads, tid);
  group_barrier();
  for (uint32_t idx = tid; idx < w * w; idx += p.threads) {
    const uint32_t r = idx % w;
    const uint32_t c = idx / w;
    if (r <= c) x[r + c * ld] = r == c ? C(1) : C(0);
  }
  group_barrier();
  tsqr_store_y(p, w1, matrix, x, 0u, rows, tile.begin, ctx);
}

// Groups: batch x (leaves - 1), leaves 1, 2, ...: X, then its rows of Y = X U^-1 (none of
// them among the panel's first width rows, which leaf 0 holds). Scratch: tsqr_scratch_elements.
template <typename P, typename T, typename C>
MSVD_INLINE void tsqr_leaf_y(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                             MSVD_DEVICE C* w1, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                             MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / (p.tiles - 1);
  const uint32_t t = ctx.group % (p.tiles - 1) + 1;
  const uint32_t w = p.width;
  MSVD_THREADGROUP C* x = scratch;
  MSVD_THREADGROUP C* u = scratch + p.tile_rows * w;  // the expansion's W first
  const TsqrTile<C> tile = tsqr_expand_tile(p, w0, w2, matrix, t, x, u, ctx);
  const uint32_t rows = tile.end - tile.begin;
  MSVD_DEVICE const C* u_in = tsqr_region(p, w2, matrix) + p.u_offset;
  for (uint32_t idx = ctx.thread_index; idx < w * w; idx += p.threads) u[idx] = u_in[idx];
  group_barrier();
  tsqr_solve_rows(x, p.tile_rows, 0u, rows, w, u, w, p.threads, ctx.thread_index);
  group_barrier();
  tsqr_store_y(p, w1, matrix, x, 0u, rows, tile.begin, ctx);
}

}  // namespace kernels
}  // namespace metalsvd
