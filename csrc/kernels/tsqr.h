// One Householder panel (at most kTsqrMaxWidth columns) of a tall matrix by tall-skinny QR with
// the Householder vectors reconstructed (Ballard, Demmel, Grigori, Jacquelin, Knight and Nguyen,
// "Reconstructing Householder vectors from tall-skinny QR", 2015): a panel is a few launches
// however tall it is, where a Householder reflector spread over several groups is a launch
// each (its norm needs a grid-wide barrier before its use).
//
// The panel's rows are split into leaves of at most tile_rows rows; each is factored by one
// group, with its reflectors' T factor (H = I - V T V^T), and the leaves' R
// factors, stacked, are factored the same way by the nodes of a tree (tile_rows / width children
// a node) up to one root. The explicit Q of the panel then comes back down the tree: every node
// forms X = H [C; 0] = [C; 0] - V (T (V1^T C)) from the C its parent handed it (the identity at
// the root; V1: V's first width rows), a thread a row of X, and hands each child its rows of X.
// Finally the LU
// factorisation Q - S = Y U with S = diag(+-1) chosen so that every pivot has magnitude >= 1
// gives the reflectors Y of the panel's Householder QR, its T = -U S Y1^-T (Y1: Y's first
// width rows) and R = S R_root, in the layout the blocked QR applies (householder.h):
//   tsqr_factor       a group a tile (leaves of the panel, or nodes over a stack of R factors):
//                     Householder QR with the tile's rows in registers, the reflectors back in
//                     place, their T factor, and the tile's R into the next level's stack
//   tsqr_expand       a group a node, root first: X = H [C; 0], the children's C
//   tsqr_reconstruct  a group a matrix: the first width rows of leaf 0's X, their LU with the
//                     signs, T, R (into the panel's first rows) and leaf 0's rows of Y
//   tsqr_leaf_y       a group for each other leaf: its rows of Y = X U^-1
// Below a tile's first width rows, X U^-1 = -V (W U^-1): a thread a row, with W U^-1 solved
// once for the tile rather than every row of X solved against U.
// Every tile has at least `width` rows (the host splits evenly, tile_rows >= 2 width), so no
// tile needs padding. A zero column gives tau = 0 and the reconstruction still holds: the
// explicit Q is orthonormal whatever the panel's rank.
#pragma once

#include "dialect.h"
#include "group_reduce.h"
#include "householder.h"
#include "householder_reconstruction.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

MSVD_CONSTANT constexpr uint32_t kTsqrMaxWidth = kHouseholderMaxPanel;
// c_offset's value for the root, whose C is the identity.
MSVD_CONSTANT constexpr uint32_t kTsqrIdentity = 0xffffffffu;
// fallback_offset's value for a panel that only the TSQR factors.
MSVD_CONSTANT constexpr uint32_t kTsqrAlways = 0xffffffffu;

// Where a panel factorisation (this TSQR, or kernels/cholesky_qr.h) finds its panel, Y and its
// region of scratch.
struct PanelLayout {
  int64_t a_batch_stride;       // w0: the matrix whose panel is factored
  int64_t y_batch_stride;       // w1: Y, where the panel's reflectors go
  int64_t region_batch_stride;  // w2: T factors and scratch, per matrix
  int64_t a_row_stride;         // w0 starts at the panel's (0, 0); (r, c) at r a_row_stride +
  int64_t a_col_stride;         // c a_col_stride
  uint32_t y_ld;                // w1 starts at the panel's (0, 0), column-major
  uint32_t batch;
  uint32_t rows;   // the panel's rows
  uint32_t width;  // its columns
};

// The tree's scratch lives in each matrix's w2 region (the factorisation's T factors come
// first); offsets are elements from the start of a matrix's region. A stack (the R factors of
// a level's tiles, or the C handed to them) is column-major, width columns, with a leading
// dimension of (tiles of the level below) x width.
struct TsqrParams : PanelLayout {
  uint32_t tile_rows;   // the most rows a tile has (the leading dimension in threadgroup memory)
  uint32_t threads;     // whole SIMD groups
  uint32_t units;       // what this launch's tiles split: rows (leaves) or children (nodes)
  uint32_t tiles;       // tiles a matrix in this launch
  uint32_t from_stack;  // 1: the tiles are R factors in the stack at stack_offset; 0: the panel
  uint32_t stack_offset;
  uint32_t tile_t_offset;    // this level's T factors, width x width a tile (leading dimension w)
  uint32_t out_offset;       // factor: the next level's stack; expand: the children's C
  uint32_t c_offset;         // this level's C (same layout as its stack), or kTsqrIdentity
  uint32_t r_offset;         // reconstruct: the root's R, width x width, leading dimension width
  uint32_t t_offset;         // the panel's T, width x width, leading dimension width
  uint32_t u_offset;         // U (width x width, leading dimension width), then the signs (width)
  uint32_t fallback_offset;  // kTsqrAlways, or a flag per matrix: factor only where it is not 0
};

// Whether this panel of `matrix` is left alone: another factorisation tried first and
// succeeded (kernels/cholesky_qr.h), so that its flag in the matrix's region is 0.
template <typename P, typename C>
MSVD_INLINE bool tsqr_skipped(MSVD_CONSTANT const P& p, MSVD_DEVICE const C* w2, uint32_t matrix) {
  return p.fallback_offset != kTsqrAlways &&
         w2[static_cast<int64_t>(matrix) * p.region_batch_stride + p.fallback_offset] == C(0);
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
    tile.base = w2 + static_cast<int64_t>(matrix) * p.region_batch_stride + p.stack_offset;
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
  return w2 + static_cast<int64_t>(matrix) * p.region_batch_stride;
}

// Entry (r, k) of the tile's reflector k (unit lower trapezoidal), which tsqr_factor left below
// the diagonal of the tile in device memory.
template <typename C>
MSVD_INLINE C tsqr_v(TsqrTile<C> tile, uint32_t r, uint32_t k) {
  return r > k ? *tsqr_at(tile, r, k) : (r == k ? C(1) : C(0));
}

// The expansion X = H [C; 0] = [C; 0] - V W of a tile, W = T (V1^T C), C the width x width block
// at `c_block` (leading dimension c_ld) or the identity. X is never formed whole: its rows go
// where they are wanted (the children's C, or Y = X U^-1 = [C U^-1; 0] - V (W U^-1), whose rows
// below the first width need only W U^-1), each by a thread with its row of V in registers.
template <typename C>
struct TsqrExpansion {
  TsqrTile<C> tile;
  MSVD_DEVICE const C* t_factor;  // the tile's T, leading dimension width
  MSVD_DEVICE const C* c_block;
  uint32_t c_ld;
  bool identity;
  uint32_t width;
};

// The expansion of tile t at this launch's level.
template <typename P, typename C>
MSVD_INLINE TsqrExpansion<C> tsqr_expansion(MSVD_CONSTANT const P& p, MSVD_DEVICE C* w0,
                                            MSVD_DEVICE C* w2, uint32_t matrix, uint32_t t) {
  TsqrExpansion<C> e;
  e.tile = tsqr_tile(p, w0, w2, matrix, t);
  MSVD_DEVICE C* region = tsqr_region(p, w2, matrix);
  e.t_factor = region + p.tile_t_offset + t * p.width * p.width;
  e.identity = p.c_offset == kTsqrIdentity;
  e.c_block = e.identity ? region : region + p.c_offset + t * p.width;
  e.c_ld = p.tiles * p.width;
  e.width = p.width;
  return e;
}

// Entry (r, c) of [C; 0].
template <typename C>
MSVD_INLINE C tsqr_c_entry(TsqrExpansion<C> e, uint32_t r, uint32_t c) {
  if (r >= e.width) return C(0);
  return e.identity ? (r == c ? C(1) : C(0)) : e.c_block[r + c * e.c_ld];
}

// W = T (V1^T C) into w_block (width x width, leading dimension width), by way of M = V1^T C in
// m; a thread an entry. Ends with a barrier.
template <typename C>
MSVD_INLINE void tsqr_expansion_w(TsqrExpansion<C> e, MSVD_THREADGROUP C* m,
                                  MSVD_THREADGROUP C* w_block, uint32_t threads, uint32_t tid) {
  const uint32_t w = e.width;
  for (uint32_t idx = tid; idx < w * w; idx += threads) {
    const uint32_t k = idx % w;
    const uint32_t c = idx / w;
    C sum = C(0);
    if (e.identity)
      sum = tsqr_v(e.tile, c, k);
    else
      for (uint32_t i = k; i < w; ++i) sum += tsqr_v(e.tile, i, k) * e.c_block[i + c * e.c_ld];
    m[idx] = sum;
  }
  group_barrier();
  for (uint32_t idx = tid; idx < w * w; idx += threads) {
    const uint32_t k = idx % w;
    const uint32_t c = idx / w;
    C sum = C(0);
    for (uint32_t q = k; q < w; ++q) sum += e.t_factor[k + q * w] * m[q + c * w];
    w_block[idx] = sum;
  }
  group_barrier();
}

// Rows [first, rows of the tile) of [C; 0] - V B to dst (column-major, leading dimension dst_ld),
// B width x width in threadgroup memory (leading dimension width): a thread a row, its row of V
// in registers, consecutive threads storing consecutive rows.
template <typename C>
MSVD_INLINE void tsqr_expansion_rows(TsqrExpansion<C> e, uint32_t first,
                                     MSVD_THREADGROUP const C* b, MSVD_DEVICE C* dst,
                                     uint32_t dst_ld, uint32_t threads, uint32_t tid) {
  const uint32_t w = e.width;
  for (uint32_t r = first + tid; r < e.tile.end - e.tile.begin; r += threads) {
    C v[kTsqrMaxWidth];
    MSVD_UNROLL
    for (uint32_t k = 0; k < kTsqrMaxWidth; ++k) v[k] = k < w ? tsqr_v(e.tile, r, k) : C(0);
    for (uint32_t c = 0; c < w; ++c) {
      C sum = tsqr_c_entry(e, r, c);
      MSVD_UNROLL
      for (uint32_t k = 0; k < kTsqrMaxWidth; ++k)
        if (k < w) sum -= v[k] * b[k + c * w];
      dst[r + static_cast<int64_t>(c) * dst_ld] = sum;
    }
  }
}

// X's first width rows, [C] - V1 W, into x (width x width, leading dimension width); a thread an
// entry, V1 unit lower triangular.
template <typename C>
MSVD_INLINE void tsqr_expansion_head(TsqrExpansion<C> e, MSVD_THREADGROUP const C* w_block,
                                     MSVD_THREADGROUP C* x, uint32_t threads, uint32_t tid) {
  const uint32_t w = e.width;
  for (uint32_t idx = tid; idx < w * w; idx += threads) {
    const uint32_t r = idx % w;
    const uint32_t c = idx / w;
    C sum = tsqr_c_entry(e, r, c);
    for (uint32_t k = 0; k <= r; ++k) sum -= tsqr_v(e.tile, r, k) * w_block[k + c * w];
    x[idx] = sum;
  }
}

// Row r of x (leading dimension ld) solved against U in place: y U = x.
template <typename C>
MSVD_INLINE void tsqr_solve_row(MSVD_THREADGROUP C* x, uint32_t ld, uint32_t r, uint32_t width,
                                MSVD_THREADGROUP const C* u, uint32_t u_ld) {
  for (uint32_t c = 0; c < width; ++c) {
    C sum = x[r + c * ld];
    for (uint32_t q = 0; q < c; ++q) sum -= x[r + q * ld] * u[q + c * u_ld];
    x[r + c * ld] = sum / u[c + c * u_ld];
  }
}

// Threadgroup memory of tsqr_expand, tsqr_reconstruct and tsqr_leaf_y for `width`, in elements:
// three width x width blocks and the signs.
MSVD_HOST_DEVICE uint32_t tsqr_expansion_scratch_elements(uint32_t width) {
  return 3 * width * width + width;
}

// tsqr_factor: Householder QR of a tile with its rows in registers, rows tid + k threads
// (k < tsqr_factor_rows) of thread tid, so that a QR step reads no threadgroup memory for the
// tile and waits on one barrier. A thread's row turns by one column a step, so that column j
// always sits in its first register and every access is to a register named at compile time
// (column j + q in register q at step j, the finished columns at the end). Step j forms, in one
// pass over a thread's rows below row j, the products of column j with every column of the
// row; one butterfly a SIMD group and a sum over the SIMD groups turn them into column j's dots
//   with itself                     the norm below the diagonal: the reflector (xLARFG)
//   with the columns right of it    v . a_c = a_jc + scale (a_j . a_c): how much of v each loses
//   with the reflectors left of it  v_c . v_j = v_c[j] + scale (v_c . a_j): T's column j (xLARFT)
// with a_jc from row j, which its owner puts in threadgroup memory before the barrier. The
// sums and row j alternate between two buffers by step, so that a step's writes never meet the
// previous step's reads. The rows a thread holds for a compute type of `element_bytes`: 32
// values each, within what a thread's registers hold beside the products (CUDA gives each of
// 512 threads 128; a float64 value takes two).
MSVD_HOST_DEVICE constexpr uint32_t tsqr_factor_rows(uint32_t element_bytes) {
  return element_bytes > 4 ? 1u : 2u;
}

// tsqr_factor's parameters: TsqrParams under their own name, so that a backend can bound its
// launches apart from the other TSQR kernels' (CUDA: fewer threads, more registers each).
struct TsqrFactorParams : TsqrParams {};

// Threadgroup memory of tsqr_factor for `threads` and `width`, in elements: two buffers of the
// SIMD groups' sums and of row j (a lane or a register each), and T.
MSVD_HOST_DEVICE uint32_t tsqr_factor_scratch_elements(uint32_t threads, uint32_t width) {
  return 2 * (threads / kSimdWidth) * kSimdWidth + 2 * kSimdWidth + width * width;
}

// One row of a tile as a thread holds it: kTsqrMaxWidth registers (passed by value, since Metal
// allows no reference to a thread's array without naming its address space).
template <typename C>
struct TsqrRow {
  C x[kTsqrMaxWidth];
};

// The row turned by one column: register q takes register q + 1's value, the last the first's.
template <typename C>
MSVD_INLINE TsqrRow<C> tsqr_turned(TsqrRow<C> row) {
  TsqrRow<C> turned;
  MSVD_UNROLL
  for (uint32_t q = 0; q + 1 < kTsqrMaxWidth; ++q) turned.x[q] = row.x[q + 1];
  turned.x[kTsqrMaxWidth - 1] = row.x[0];
  return turned;
}

// Groups: batch x tiles, at least tile rows / tsqr_factor_rows threads each. The tile's
// reflectors back in place (R on and above the diagonal), R into the next level's stack, T
// (leading dimension width) into the level's T factors. Scratch: tsqr_factor_scratch_elements.
template <typename P, typename T, typename C>
MSVD_INLINE void tsqr_factor(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                             MSVD_DEVICE C*, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                             MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  constexpr uint32_t kRows = tsqr_factor_rows(sizeof(C));
  constexpr uint32_t kW = kTsqrMaxWidth;
  static_assert(kTsqrMaxWidth == kSimdWidth, "a lane a register of the step's sums");
  const uint32_t matrix = ctx.group / p.tiles;
  if (tsqr_skipped(p, w2, matrix)) return;
  const uint32_t t = ctx.group % p.tiles;
  const uint32_t w = p.width;
  const uint32_t tid = ctx.thread_index;
  const uint32_t lane = ctx.lane;
  const uint32_t warps = p.threads / kSimdWidth;
  const TsqrTile<C> tile = tsqr_tile(p, w0, w2, matrix, t);
  const uint32_t rows = tile.end - tile.begin;
  MSVD_THREADGROUP C* sums = scratch;                 // 2 x warps x kW
  MSVD_THREADGROUP C* heads = sums + 2 * warps * kW;  // 2 x kW
  MSVD_THREADGROUP C* t_factor = heads + 2 * kW;      // w x w, leading dimension w

  // Consecutive threads hold consecutive rows, so that a column's loads and stores coalesce. A
  // row is walked by one pointer (an address a column would take 64 registers).
  TsqrRow<C> x[kRows];
  MSVD_UNROLL
  for (uint32_t k = 0; k < kRows; ++k) {
    const uint32_t r = tid + k * p.threads;
    MSVD_DEVICE const C* at = tsqr_at(tile, r < rows ? r : 0u, 0u);
    MSVD_UNROLL
    for (uint32_t c = 0; c < kW; ++c, at += tile.col_stride)
      x[k].x[c] = r < rows && c < w ? *at : C(0);
  }
  for (uint32_t j = 0; j < w; ++j) {
    MSVD_THREADGROUP C* step_sums = sums + (j & 1u) * warps * kW;
    MSVD_THREADGROUP C* head = heads + (j & 1u) * kW;
    if (tid == j) {  // row j: thread j's first (w <= kSimdWidth <= threads)
      MSVD_UNROLL
      for (uint32_t q = 0; q < kW; ++q) head[q] = x[0].x[q];
    }
    // Column j of this thread's rows below row j (zero elsewhere), and its products with every
    // register, summed over the SIMD group: lane q gets register q's. The butterfly's first
    // step is taken as the products are formed, so that only half of them are ever held at once
    // (the thread's rows fill most of its registers).
    C a_j[kRows];
    MSVD_UNROLL
    for (uint32_t k = 0; k < kRows; ++k) {
      const uint32_t r = tid + k * p.threads;
      a_j[k] = r > j && r < rows ? x[k].x[0] : C(0);
    }
    SimdRows<C, kW / 2> half;
    MSVD_UNROLL
    for (uint32_t q = 0; q < kW / 2; ++q) {
      C low = C(0);
      C high = C(0);
      MSVD_UNROLL
      for (uint32_t k = 0; k < kRows; ++k) {
        low += a_j[k] * x[k].x[q];
        high += a_j[k] * x[k].x[q + kW / 2];
      }
      half.x[q] = simd_fold_pair(low, high, lane, kW / 2);
    }
    step_sums[ctx.simd_group * kW + lane] = simd_row_butterfly(half, lane);
    group_barrier();
    C g = C(0);  // lane q: a_j . (register q) over the rows below j
    for (uint32_t s = 0; s < warps; ++s) g += step_sums[s * kW + lane];
    const Reflector<C> h = householder_reflector(head[0], simd_broadcast(g, 0u));
    // Lane q holds column c = j + q (mod kW): v_c . v_j for c < j, and for j < c < kW what
    // column c loses per unit of v, tau (v . a_c) (zero otherwise, so that the update below
    // needs no condition: v is zero above row j).
    const C dot_v = head[lane] + h.scale * g;
    const C loss = lane >= 1 && lane + j < kW ? h.tau * dot_v : C(0);
    // T's column j by the first SIMD group, lane i: -tau sum over i <= c < j of T(i, c) (v_c .
    // v_j).
    if (ctx.simd_group == 0) {
      C t_sum = C(0);
      MSVD_UNROLL
      for (uint32_t c = 0; c < kW; ++c) {
        const C dot = simd_broadcast(dot_v, (c + kW - j) % kW);
        if (c >= lane && c < j) t_sum += t_factor[lane + c * w] * dot;
      }
      if (lane <= j) t_factor[lane + j * w] = lane == j ? h.tau : -h.tau * t_sum;
    }
    C v[kRows];  // the reflector on this thread's rows: 1 at row j, zero above
    MSVD_UNROLL
    for (uint32_t k = 0; k < kRows; ++k) v[k] = tid + k * p.threads == j ? C(1) : h.scale * a_j[k];
    MSVD_UNROLL
    for (uint32_t q = 1; q < kW; ++q) {
      const C column_loss = simd_broadcast(loss, q);
      MSVD_UNROLL
      for (uint32_t k = 0; k < kRows; ++k) x[k].x[q] -= column_loss * v[k];
    }
    // Column j: beta on the diagonal, the reflector below it; then it turns to the end.
    MSVD_UNROLL
    for (uint32_t k = 0; k < kRows; ++k) {
      const uint32_t r = tid + k * p.threads;
      x[k].x[0] = r == j ? h.beta : (r > j ? v[k] : x[k].x[0]);
      x[k] = tsqr_turned(x[k]);
    }
  }
  // Turned by w registers: back to column c in register c where w < kW.
  for (uint32_t q = w; q < kW; ++q) {
    MSVD_UNROLL
    for (uint32_t k = 0; k < kRows; ++k) x[k] = tsqr_turned(x[k]);
  }
  group_barrier();  // T complete
  MSVD_UNROLL
  for (uint32_t k = 0; k < kRows; ++k) {
    const uint32_t r = tid + k * p.threads;
    if (r >= rows) continue;
    MSVD_DEVICE C* at = tsqr_at(tile, r, 0u);
    MSVD_UNROLL
    for (uint32_t c = 0; c < kW; ++c, at += tile.col_stride)
      if (c < w) *at = x[k].x[c];
  }
  // R, zeros below its diagonal, into rows [t w, (t + 1) w) of the next level's stack: the
  // first w rows are threads 0 .. w - 1's first.
  MSVD_DEVICE C* region = tsqr_region(p, w2, matrix);
  if (tid < w) {
    MSVD_DEVICE C* r_out = region + p.out_offset + t * w;
    const uint32_t out_ld = p.tiles * w;
    MSVD_UNROLL
    for (uint32_t c = 0; c < kW; ++c)
      if (c < w) r_out[tid + c * out_ld] = tid <= c ? x[0].x[c] : C(0);
  }
  MSVD_DEVICE C* t_out = region + p.tile_t_offset + t * w * w;
  for (uint32_t idx = tid; idx < w * w; idx += p.threads) {
    const uint32_t i = idx % w;
    const uint32_t c = idx / w;
    t_out[idx] = i <= c ? t_factor[idx] : C(0);
  }
}

// Groups: batch x tiles (the nodes of one level): X = H [C; 0], the children's C.
// Scratch: tsqr_expansion_scratch_elements.
template <typename P, typename T, typename C>
MSVD_INLINE void tsqr_expand(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                             MSVD_DEVICE C*, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                             MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.tiles;
  if (tsqr_skipped(p, w2, matrix)) return;
  const uint32_t t = ctx.group % p.tiles;
  const uint32_t w = p.width;
  const TsqrExpansion<C> e = tsqr_expansion(p, w0, w2, matrix, t);
  MSVD_DEVICE C* region = tsqr_region(p, w2, matrix);
  MSVD_THREADGROUP C* w_block = scratch + w * w;
  tsqr_expansion_w(e, scratch, w_block, p.threads, ctx.thread_index);
  tsqr_expansion_rows(e, 0u, w_block, region + p.out_offset + e.tile.begin, p.units * w, p.threads,
                      ctx.thread_index);
}

// Groups: batch. Leaf 0's X (its first width rows), the LU Q1 - S = Y1 U with the signs, T, R and
// leaf 0's rows of Y; U and the signs to u_offset for tsqr_leaf_y.
// Scratch: tsqr_expansion_scratch_elements.
template <typename P, typename T, typename C>
MSVD_INLINE void tsqr_reconstruct(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                  MSVD_DEVICE C* w1, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                                  MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                  ThreadContext ctx) {
  const uint32_t matrix = ctx.group;
  if (tsqr_skipped(p, w2, matrix)) return;
  const uint32_t tid = ctx.thread_index;
  const uint32_t w = p.width;
  const uint32_t ld = w;
  MSVD_THREADGROUP C* x = scratch;  // M first, then X's first w rows and their LU
  MSVD_THREADGROUP C* w_block = scratch + w * w;
  MSVD_THREADGROUP C* signs = scratch + 3 * w * w;
  const TsqrExpansion<C> e = tsqr_expansion(p, w0, w2, matrix, 0u);
  const TsqrTile<C> tile = e.tile;
  MSVD_DEVICE C* region = tsqr_region(p, w2, matrix);
  tsqr_expansion_w(e, x, w_block, p.threads, tid);
  tsqr_expansion_head(e, w_block, x, p.threads, tid);
  group_barrier();
  signed_lu(x, ld, signs, w, p.threads, tid);
  // T by the first SIMD group, a thread a row; meanwhile the second SIMD group's threads solve
  // W's rows against U: Y's rows below the first w are then -V (W U^-1).
  MSVD_DEVICE C* t_out = region + p.t_offset;
  if (tid < kSimdWidth) {
    reconstructed_t_row<C, kTsqrMaxWidth>(x, ld, signs, w, tid, t_out);
  } else if (tid < kSimdWidth + w) {
    tsqr_solve_row(w_block, w, tid - kSimdWidth, w, x, ld);
  }
  // U and the signs for the other leaves; R = S R_root into the panel's first rows; Y's first
  // w rows, the unit lower triangle of the LU.
  MSVD_DEVICE C* u_out = region + p.u_offset;
  MSVD_DEVICE const C* r_root = region + p.r_offset;
  MSVD_DEVICE C* y = w1 + static_cast<int64_t>(matrix) * p.y_batch_stride + tile.begin;
  for (uint32_t idx = tid; idx < w * w; idx += p.threads) {
    const uint32_t r = idx % w;
    const uint32_t c = idx / w;
    u_out[r + c * w] = r <= c ? x[r + c * ld] : C(0);
    if (r <= c) *tsqr_at(tile, r, c) = signs[r] * r_root[r + c * w];
    y[r + static_cast<int64_t>(c) * p.y_ld] = r > c ? x[r + c * ld] : (r == c ? C(1) : C(0));
  }
  if (tid < w) u_out[w * w + tid] = signs[tid];
  group_barrier();  // W U^-1 complete
  tsqr_expansion_rows(e, w, w_block, y, p.y_ld, p.threads, tid);
}

// Groups: batch x (leaves - 1), leaves 1, 2, ...: their rows of Y = X U^-1 = [C U^-1; 0] -
// V (W U^-1) (none of them among the panel's first width rows, which leaf 0 holds).
// Scratch: tsqr_expansion_scratch_elements.
template <typename P, typename T, typename C>
MSVD_INLINE void tsqr_leaf_y(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                             MSVD_DEVICE C* w1, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                             MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / (p.tiles - 1);
  if (tsqr_skipped(p, w2, matrix)) return;
  const uint32_t t = ctx.group % (p.tiles - 1) + 1;
  const uint32_t tid = ctx.thread_index;
  const uint32_t w = p.width;
  MSVD_THREADGROUP C* x = scratch;  // M first, then X's first w rows
  MSVD_THREADGROUP C* w_block = scratch + w * w;
  MSVD_THREADGROUP C* u = scratch + 2 * w * w;
  const TsqrExpansion<C> e = tsqr_expansion(p, w0, w2, matrix, t);
  MSVD_DEVICE C* region = tsqr_region(p, w2, matrix);
  MSVD_DEVICE const C* u_in = region + p.u_offset;
  for (uint32_t idx = tid; idx < w * w; idx += p.threads) u[idx] = u_in[idx];
  tsqr_expansion_w(e, x, w_block, p.threads, tid);
  tsqr_expansion_head(e, w_block, x, p.threads, tid);
  group_barrier();
  // X's first w rows and W solved against U, a thread a row each.
  if (tid < w)
    tsqr_solve_row(x, w, tid, w, u, w);
  else if (tid < 2 * w)
    tsqr_solve_row(w_block, w, tid - w, w, u, w);
  group_barrier();
  MSVD_DEVICE C* y = w1 + static_cast<int64_t>(matrix) * p.y_batch_stride + e.tile.begin;
  for (uint32_t idx = tid; idx < w * w; idx += p.threads)
    y[idx % w + static_cast<int64_t>(idx / w) * p.y_ld] = x[idx];
  tsqr_expansion_rows(e, w, w_block, y, p.y_ld, p.threads, tid);
}

}  // namespace kernels
}  // namespace metalsvd
