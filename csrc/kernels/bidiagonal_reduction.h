// Golub-Kahan bidiagonalisation A = Q B P^T of a batch of column-major m x n matrices,
// m >= n: B upper bidiagonal (d, e), Q = H_0 .. H_{n-1}, P = G_0 .. G_{n-2}. Blocked as LAPACK's
// xGEBRD / xLABRD: a panel of kBrdPanel columns accumulates X and Y so that the trailing
// matrix is updated once, A -= V Y^T + X U^T (two backend GEMMs, core/bidiagonal_reduction.cpp),
// while every panel column and row is brought up to date only as it is reached.
//
// Each column takes two launches, the launch boundary being the grid-wide barrier a Householder
// reflector needs between its norm and its use:
//   bidiagonal_column  groups over the trailing columns (p.extent each): the left reflector of
//                      column k from the previous launch's sums, y = tau A^T v (the big GEMV)
//                      with its panel corrections, row k brought up to date, and the sums the
//                      right reflector needs
//   bidiagonal_row     groups over the trailing rows (p.extent each): the right reflector,
//                      x = tau A u (the other GEMV), column k + 1 brought up to date and the
//                      sums for its reflector
//   bidiagonal_panel_start   the sums of a panel's first column
//   bidiagonal_tail    one group a matrix: the rest of the reduction from a panel boundary on,
//                      unblocked (as xGEBD2), once the trailing matrix is small enough that
//                      its two launches a column cost more than one group's passes over it
// A launch that needs a reflector reduces the previous launch's per-group sums itself (every
// group, a few thousand values), so no launch exists for the reduction alone. The reflectors
// go to separate matrices Yq (m x n) and Yp (n x n, reflector k in column k from row k + 1),
// laid out as HouseholderFactors take them, and tau to their T factors' diagonals, so the core
// applies Q and P with the QR path's blocked code.
//
// The column and row launches may issue their first loads of the trailing matrix before
// wait_for_previous_kernel() (p.early_loads), so that on CUDA those round trips overlap the
// previous launch. That holds because of what the launch before each writes: a column launch
// follows the previous step's row launch (which writes, of A, only column i) or
// bidiagonal_panel_start (no A at all), a row launch follows the column launch (no A at all),
// and the GEMMs that update the trailing matrix are followed by bidiagonal_panel_start or
// bidiagonal_tail, which wait first thing.
#pragma once

#include "dialect.h"
#include "group_reduce.h"
#include "householder.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

MSVD_CONSTANT constexpr uint32_t kBrdPanel = 32;  // a lane per panel column
// Threads of the column and row kernels: any multiple of kBrdMaxCols / 4 SIMD groups up to 1024.
// A large GEMV is bound by how many loads a multiprocessor keeps in flight, a small one by its
// barriers and sums over the SIMD groups, so groups take 256, 512 or 1024 threads by their
// size (bidiagonal_threads, core/bidiagonal_reduction.cpp).
MSVD_CONSTANT constexpr uint32_t kBrdThreads = 256;
MSVD_CONSTANT constexpr uint32_t kBrdMaxThreads = 1024;
// A group's extent: the trailing columns of a bidiagonal_column group (whole sets of 4, one set
// a SIMD group) or the trailing rows of a bidiagonal_row group (a SIMD group spans them and
// kSimdWidth / extent columns), a power of two. The core narrows groups as the trailing matrix
// shrinks, so that a launch still has enough of them to fill the device: each GEMV is a few
// dependent loads per lane, not a loop, once its extent is small.
MSVD_CONSTANT constexpr uint32_t kBrdMaxCols = 32;
MSVD_CONSTANT constexpr uint32_t kBrdMinCols = 4;
MSVD_CONSTANT constexpr uint32_t kBrdMaxRows = 32;
MSVD_CONSTANT constexpr uint32_t kBrdMinRows = 8;  // 8 float32 rows: one 32-byte memory sector
MSVD_CONSTANT constexpr uint32_t kBrdUnroll = 8;   // bidiagonal_row: columns a lane loads at once
static_assert(kBrdUnroll % 2 == 0, "bidiagonal_row adds a pass's products two at a time");
// A group's sums: [alpha, |below|^2, dots with the panel's columns (kBrdPanel), dots with the
// other panel operand (kBrdPanel)], padded.
MSVD_CONSTANT constexpr uint32_t kBrdRecord = 2 * kBrdPanel + 4;
MSVD_CONSTANT constexpr uint32_t kBrdDots = 2;               // first dot slot
MSVD_CONSTANT constexpr uint32_t kBrdDots2 = 2 + kBrdPanel;  // first slot of the second dots

struct BidiagonalParams {
  int64_t q_t_batch_stride;  // w1: Q's T factors, per matrix
  int64_t p_t_batch_stride;  // w2: P's T factors
  uint32_t batch;
  uint32_t rows;
  uint32_t cols;
  uint32_t panel;  // first column of the panel, p0
  uint32_t width;  // columns in the panel
  uint32_t step;   // column of the panel this launch reduces, i (k = p0 + i)
  uint32_t groups_per_matrix;
  uint32_t partial_groups;  // groups of the previous launch, whose sums this one reduces
  uint32_t threads;
  uint32_t extent;  // columns (bidiagonal_column) or rows (bidiagonal_row) of a group
  // 1: the column or row launch loads its first share of the trailing matrix before it waits
  // for the previous launch (the top of this file), 0: after. Early loads pay where this
  // launch's groups run beside the previous launch's; where they wait for its groups to finish,
  // they only add memory traffic to the previous launch's last groups.
  uint32_t early_loads;
};

// The column and row kernels load their trailing matrix first (the top of this file); the panel
// start and the tail wait first thing.
template <>
struct WaitsInBody<BidiagonalParams> {
  enum : bool { value = true };
};

// The reduction's region (w0), one block per kind of array with the batch's matrices
// consecutive in it (so the GEMMs' operands never share an address range). Offsets and
// strides in elements.
struct BidiagonalLayout {
  int64_t a, a_stride;    // A, m x n, leading dimension m
  int64_t yq, yq_stride;  // Q's reflectors, m x n, ld m
  int64_t yp, yp_stride;  // P's reflectors, n x n, ld n (reflector k from row k + 1)
  int64_t x, x_stride;    // m x kBrdPanel, ld m (rows relative to the panel)
  int64_t y, y_stride;    // n x kBrdPanel, ld n
  int64_t column_partials, row_partials, partials_stride;  // the reflectors' group sums
  int64_t row, row_stride;  // the current row, brought up to date (n)
  int64_t de, de_stride;    // B: d (n), then e (n - 1) at offset n
  // bidiagonal_resident's exchange between its groups (kernels/bidiagonal_resident.h), two
  // parities of brd_resident_exchange elements; none where the matrix has too many rows for it.
  int64_t exchange, exchange_stride;
  int64_t total;
};

// bidiagonal_resident (kernels/bidiagonal_resident.h) holds a matrix of up to
// kBrdResidentMaxRows rows in its groups' registers, a thread a row and kBrdResidentSlots
// columns a group.
MSVD_CONSTANT constexpr uint32_t kBrdResidentSlots = 32;
MSVD_CONSTANT constexpr uint32_t kBrdResidentMaxRows = 1024;

// Its groups a matrix: column c belongs to group c % groups, in its slot c / groups.
MSVD_HOST_DEVICE uint32_t brd_resident_groups(uint32_t cols) {
  return (cols + kBrdResidentSlots - 1) / kBrdResidentSlots;
}

// One parity of its exchange, in elements: every group's partial x (rows each), the next
// column (rows) and every group's two sums for the right reflector.
MSVD_HOST_DEVICE int64_t brd_resident_exchange(uint32_t rows, uint32_t cols) {
  const int64_t groups = brd_resident_groups(cols);
  return (groups + 1) * rows + 2 * groups;
}

MSVD_HOST_DEVICE uint32_t brd_groups(uint32_t count, uint32_t per_group) {
  return count == 0 ? 1u : (count + per_group - 1) / per_group;
}

MSVD_HOST_DEVICE BidiagonalLayout bidiagonal_layout(uint32_t rows, uint32_t cols, uint32_t batch) {
  const int64_t m = rows;
  const int64_t n = cols;
  const int64_t b = batch;
  const uint32_t row_groups = brd_groups(rows, kBrdMinRows);
  const uint32_t col_groups = brd_groups(cols, kBrdMinCols);
  BidiagonalLayout l;
  l.a_stride = m * n;
  l.yq_stride = m * n;
  l.yp_stride = n * n;
  l.x_stride = m * kBrdPanel;
  l.y_stride = n * kBrdPanel;
  l.partials_stride =
      static_cast<int64_t>(row_groups > col_groups ? row_groups : col_groups) * kBrdRecord;
  l.row_stride = n;
  l.de_stride = 2 * n;
  l.exchange_stride = rows <= kBrdResidentMaxRows ? 2 * brd_resident_exchange(rows, cols) : 0;
  l.a = 0;
  l.yq = l.a + b * l.a_stride;
  l.yp = l.yq + b * l.yq_stride;
  l.x = l.yp + b * l.yp_stride;
  l.y = l.x + b * l.x_stride;
  l.column_partials = l.y + b * l.y_stride;
  l.row_partials = l.column_partials + b * l.partials_stride;
  l.row = l.row_partials + b * l.partials_stride;
  l.de = l.row + b * l.row_stride;
  l.exchange = l.de + b * l.de_stride;
  l.total = l.exchange + b * l.exchange_stride;
  return l;
}

// One matrix's view of the region, in the coordinates of the panel starting at p0: local row
// r is row p0 + r of A, local column c column p0 + c; X and Y are panel-local already.
template <typename C>
struct BrdMatrix {
  MSVD_DEVICE C* a_panel;   // A at (p0, p0)
  MSVD_DEVICE C* yq_panel;  // Yq at (p0, p0)
  MSVD_DEVICE C* yp_panel;  // Yp at (p0, p0)
  MSVD_DEVICE C* x_panel;
  MSVD_DEVICE C* y_panel;
  MSVD_DEVICE C* yq_all;  // Yq, Yp, the up-to-date row and d / e of the matrix, unshifted
  MSVD_DEVICE C* yp_all;
  MSVD_DEVICE C* row;
  MSVD_DEVICE C* de;
  MSVD_DEVICE C* column_partials;
  MSVD_DEVICE C* row_partials;
  uint32_t m, n;
  MSVD_INLINE MSVD_DEVICE C& a(uint32_t r, uint32_t c) const {
    return a_panel[static_cast<int64_t>(c) * m + r];
  }
  MSVD_INLINE MSVD_DEVICE C& yq(uint32_t r, uint32_t j) const {
    return yq_panel[static_cast<int64_t>(j) * m + r];
  }
  MSVD_INLINE MSVD_DEVICE C& yp(uint32_t c, uint32_t j) const {
    return yp_panel[static_cast<int64_t>(j) * n + c];
  }
  MSVD_INLINE MSVD_DEVICE C& x(uint32_t r, uint32_t j) const {
    return x_panel[static_cast<int64_t>(j) * m + r];
  }
  MSVD_INLINE MSVD_DEVICE C& y(uint32_t c, uint32_t j) const {
    return y_panel[static_cast<int64_t>(j) * n + c];
  }
};

template <typename P, typename C>
MSVD_INLINE BrdMatrix<C> brd_matrix(MSVD_CONSTANT const P& p, MSVD_DEVICE C* w0, uint32_t matrix) {
  const BidiagonalLayout l = bidiagonal_layout(p.rows, p.cols, p.batch);
  const int64_t b = matrix;
  const int64_t corner = static_cast<int64_t>(p.panel) * p.rows + p.panel;
  BrdMatrix<C> v;
  v.yq_all = w0 + l.yq + b * l.yq_stride;
  v.yp_all = w0 + l.yp + b * l.yp_stride;
  v.a_panel = w0 + l.a + b * l.a_stride + corner;
  v.yq_panel = v.yq_all + corner;
  v.yp_panel = v.yp_all + static_cast<int64_t>(p.panel) * p.cols + p.panel;
  v.x_panel = w0 + l.x + b * l.x_stride;
  v.y_panel = w0 + l.y + b * l.y_stride;
  v.row = w0 + l.row + b * l.row_stride;
  v.de = w0 + l.de + b * l.de_stride;
  v.column_partials = w0 + l.column_partials + b * l.partials_stride;
  v.row_partials = w0 + l.row_partials + b * l.partials_stride;
  v.m = p.rows;
  v.n = p.cols;
  return v;
}

// The records a SIMD group loads first (records w, w + warps, ..; three slots a lane each),
// issued with other loads so that their round trips overlap instead of following one another
// (at small sizes, where a launch is its latency, each round trip is a large part of it).
MSVD_CONSTANT constexpr uint32_t kBrdEarlyRecords = 2;
template <typename C>
struct BrdEarlyRecords {
  C slot[kBrdEarlyRecords][3];
};

template <typename C>
MSVD_INLINE BrdEarlyRecords<C> brd_load_early_records(MSVD_DEVICE const C* records, uint32_t count,
                                                      ThreadContext ctx, uint32_t threads) {
  const uint32_t warps = threads / kSimdWidth;
  BrdEarlyRecords<C> early;
  MSVD_UNROLL
  for (uint32_t b = 0; b < kBrdEarlyRecords; ++b) {
    const uint32_t g = ctx.simd_group + b * warps;
    MSVD_UNROLL
    for (uint32_t q = 0; q < 3; ++q) {
      const uint32_t slot = ctx.lane + kSimdWidth * q;
      early.slot[b][q] = g < count && slot < kBrdRecord
                             ? records[static_cast<int64_t>(g) * kBrdRecord + slot]
                             : C(0);
    }
  }
  return early;
}

// out[0, kBrdRecord) = the sum of records[0, count): SIMD group w adds records w, w + warps, ..,
// each lane three slots, the first kBrdEarlyRecords of them already loaded (`early`); then the
// groups' sums are added. warp_sums: warps x kBrdRecord.
template <typename C>
MSVD_INLINE void brd_reduce_records(BrdEarlyRecords<C> early, MSVD_DEVICE const C* records,
                                    uint32_t count, MSVD_THREADGROUP C* warp_sums,
                                    MSVD_THREADGROUP C* out, ThreadContext ctx, uint32_t threads) {
  const uint32_t warps = threads / kSimdWidth;
  C acc[3];
  MSVD_UNROLL
  for (uint32_t q = 0; q < 3; ++q) {
    acc[q] = C(0);
    MSVD_UNROLL
    for (uint32_t b = 0; b < kBrdEarlyRecords; ++b) acc[q] += early.slot[b][q];
  }
  // The rest (more groups than early loads cover), two records at a time, so that six loads a
  // lane are in flight.
  uint32_t g = ctx.simd_group + kBrdEarlyRecords * warps;
  for (; g + warps < count; g += 2 * warps) {
    MSVD_DEVICE const C* first = records + static_cast<int64_t>(g) * kBrdRecord;
    MSVD_DEVICE const C* second = first + static_cast<int64_t>(warps) * kBrdRecord;
    MSVD_UNROLL
    for (uint32_t q = 0; q < 3; ++q) {
      const uint32_t slot = ctx.lane + kSimdWidth * q;
      if (slot < kBrdRecord) acc[q] += first[slot] + second[slot];
    }
  }
  if (g < count) {
    MSVD_UNROLL
    for (uint32_t q = 0; q < 3; ++q) {
      const uint32_t slot = ctx.lane + kSimdWidth * q;
      if (slot < kBrdRecord) acc[q] += records[static_cast<int64_t>(g) * kBrdRecord + slot];
    }
  }
  MSVD_UNROLL
  for (uint32_t q = 0; q < 3; ++q) {
    const uint32_t slot = ctx.lane + kSimdWidth * q;
    if (slot < kBrdRecord) warp_sums[ctx.simd_group * kBrdRecord + slot] = acc[q];
  }
  group_barrier();
  for (uint32_t slot = ctx.thread_index; slot < kBrdRecord; slot += threads) {
    C sum = C(0);
    for (uint32_t w = 0; w < warps; ++w) sum += warp_sums[w * kBrdRecord + slot];
    out[slot] = sum;
  }
  group_barrier();
}

// The sums of a panel's first column as it is (the panel has no X, Y yet): alpha and the
// squared norm below it. Groups: batch x groups_per_matrix, kBrdThreads rows each.
template <typename P, typename T, typename C>
MSVD_INLINE void bidiagonal_panel_start(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                        MSVD_DEVICE C*, MSVD_DEVICE C*, MSVD_DEVICE int32_t*,
                                        MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                        ThreadContext ctx) {
  wait_for_previous_kernel();
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  const uint32_t group = ctx.group % p.groups_per_matrix;
  const BrdMatrix<C> v = brd_matrix(p, w0, matrix);
  const uint32_t rows = p.rows - p.panel;
  const uint32_t r = group * p.threads + ctx.thread_index;
  const C x = r < rows ? v.a(r, 0) : C(0);
  const C below = group_reduce_sum(r > 0 ? x * x : C(0), scratch, ctx, p.threads);
  const C head = group_reduce_sum(r == 0 ? x : C(0), scratch, ctx, p.threads);
  MSVD_DEVICE C* record = v.column_partials + int64_t{group} * kBrdRecord;
  for (uint32_t slot = ctx.thread_index; slot < kBrdRecord; slot += p.threads)
    record[slot] = slot == 0 ? head : (slot == 1 ? below : C(0));
}

// Threadgroup memory of bidiagonal_column and bidiagonal_row, in elements.
MSVD_HOST_DEVICE uint32_t brd_scratch_elements(uint32_t threads) {
  return (threads / kSimdWidth + 1) * kBrdRecord + 4 * kBrdPanel + threads;
}

// What a column or row launch's group works on: its matrix, its index among the matrix's groups,
// the matrix's view and the panel's trailing extent.
template <typename C>
struct BrdStep {
  uint32_t matrix, group, rows, cols;
  BrdMatrix<C> v;
};
template <typename P, typename C>
MSVD_INLINE BrdStep<C> brd_step(MSVD_CONSTANT const P& p, MSVD_DEVICE C* w0, ThreadContext ctx) {
  BrdStep<C> s;
  s.matrix = ctx.group / p.groups_per_matrix;
  s.group = ctx.group % p.groups_per_matrix;
  s.rows = p.rows - p.panel;
  s.cols = p.cols - p.panel;
  s.v = brd_matrix(p, w0, s.matrix);
  return s;
}

// Step i of the panel: column k = p0 + i's reflector, then the trailing columns (see the top).
// Groups: batch x groups_per_matrix, p.extent trailing columns each (at least one group).
template <typename P, typename T, typename C>
MSVD_INLINE void bidiagonal_column(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                   MSVD_DEVICE C* w1, MSVD_DEVICE C*, MSVD_DEVICE int32_t*,
                                   MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                   ThreadContext ctx) {
  const BrdStep<C> st = brd_step(p, w0, ctx);
  const uint32_t matrix = st.matrix;
  const uint32_t group = st.group;
  const uint32_t tid = ctx.thread_index;
  const uint32_t lane = ctx.lane;
  const uint32_t warps = p.threads / kSimdWidth;
  const BrdMatrix<C> v = st.v;
  const uint32_t i = p.step;
  const uint32_t k = p.panel + i;
  const uint32_t rows = st.rows;  // M, trailing rows from the panel on
  const uint32_t cols = st.cols;  // N
  MSVD_THREADGROUP C* warp_sums = scratch;
  MSVD_THREADGROUP C* sums = scratch + warps * kBrdRecord;
  MSVD_THREADGROUP C* t1 = sums + kBrdRecord;
  MSVD_THREADGROUP C* t2 = t1 + kBrdPanel;
  MSVD_THREADGROUP C* split_dots = t2 + kBrdPanel;  // row_splits x extent

  // Every load that no reflector decides is issued first, so that their round trips overlap:
  // the raw dots A[i+1.., c]^T A[i+1.., i] (v = (1, scale A[i+1.., i]) joins them later), the
  // previous launch's records and what the epilogue needs. SIMD group w takes 4 of the group's
  // columns (w % column_sets) over every (warps / column_sets)-th 32 rows, two such row blocks
  // at a time, so that many loads are in flight.
  const uint32_t column_sets = p.extent / 4;
  const uint32_t column_set = ctx.simd_group % column_sets;
  const uint32_t row_split = ctx.simd_group / column_sets;
  const uint32_t row_splits = warps / column_sets;
  const uint32_t first = i + 1 + group * p.extent + column_set * 4;
  const uint32_t row_step = row_splits * kSimdWidth;
  // First (before the wait, with early loads), what the previous launch does not write (the top
  // of this file): the trailing columns' first two row blocks and, for row split 0, their row i. A
  // column past the matrix reads the last column instead, and its dot is dropped; a row past it
  // reads row i: loads that no condition guards are issued together, where guarded ones went out
  // one pair at a time.
  if (p.early_loads == 0) wait_for_previous_kernel();
  const bool trailing = i + 1 < cols;
  MSVD_DEVICE const C* columns[4];
  MSVD_UNROLL
  for (uint32_t q = 0; q < 4; ++q) columns[q] = &v.a(0, first + q < cols ? first + q : cols - 1);
  const uint32_t r0 = i + 1 + row_split * kSimdWidth + lane;
  const uint32_t r1 = r0 + row_step;
  C x0[4], x1[4], a_i[4];
  MSVD_UNROLL
  for (uint32_t q = 0; q < 4; ++q) {
    x0[q] = trailing ? columns[q][r0 < rows ? r0 : i] : C(0);
    x1[q] = trailing ? columns[q][r1 < rows ? r1 : i] : C(0);
    a_i[q] = trailing && row_split == 0 && first + q < cols ? v.a(i, first + q) : C(0);
  }
  if (p.early_loads != 0) wait_for_previous_kernel();
  const BrdEarlyRecords<C> early =
      brd_load_early_records(v.column_partials, p.partial_groups, ctx, p.threads);
  // What the epilogue needs: row i of the earlier reflectors and of X (lane j: panel column
  // j), and, for row split 0, its columns' rows of Y and Yp.
  const bool earlier = lane < i;
  const C head_j = earlier ? v.yq(i, lane) : C(0);
  const C x_ij = earlier ? v.x(i, lane) : C(0);
  C y_j[4], yp_j[4];
  MSVD_UNROLL
  for (uint32_t q = 0; q < 4; ++q) {
    const uint32_t c = first + q;
    const bool mine = row_split == 0 && c < cols && earlier;
    y_j[q] = mine ? v.y(c, lane) : C(0);
    yp_j[q] = mine ? v.yp(c, lane) : C(0);
  }
  const C v0 = r0 < rows ? v.a(r0, i) : C(0);
  const C v1 = r1 < rows ? v.a(r1, i) : C(0);
  C acc[4];
  MSVD_UNROLL
  for (uint32_t q = 0; q < 4; ++q) acc[q] = x0[q] * v0 + x1[q] * v1;
  uint32_t r = r0 + 2 * row_step;
  for (; r + row_step < rows; r += 2 * row_step) {
    const C vr = v.a(r, i);
    const C vr2 = v.a(r + row_step, i);
    C x[4], x2[4];
    MSVD_UNROLL
    for (uint32_t q = 0; q < 4; ++q) {
      x[q] = columns[q][r];
      x2[q] = columns[q][r + row_step];
    }
    MSVD_UNROLL
    for (uint32_t q = 0; q < 4; ++q) acc[q] += x[q] * vr + x2[q] * vr2;
  }
  if (r < rows) {
    const C vr = v.a(r, i);
    MSVD_UNROLL
    for (uint32_t q = 0; q < 4; ++q) acc[q] += columns[q][r] * vr;
  }
  MSVD_UNROLL
  for (uint32_t q = 0; q < 4; ++q) {
    const C dot = simd_reduce_sum(first + q < cols ? acc[q] : C(0));
    if (lane == 0) split_dots[row_split * p.extent + column_set * 4 + q] = dot;
  }

  brd_reduce_records(early, v.column_partials, p.partial_groups, warp_sums, sums, ctx, p.threads);
  const Reflector<C> h = householder_reflector(sums[0], sums[1]);
  // t1 = V^T v and t2 = X^T v over rows i.. (the panel's earlier reflectors), from the sums.
  if (tid < i) {
    t1[tid] = head_j + h.scale * sums[kBrdDots + tid];
    t2[tid] = x_ij + h.scale * sums[kBrdDots2 + tid];
  }
  if (group == 0 && tid == 0) {
    v.de[k] = h.beta;
    w1[static_cast<int64_t>(matrix) * p.q_t_batch_stride + householder_tau_index(k, p.cols)] =
        h.tau;
  }
  // v into Yq's column k (zeros above the diagonal), every group a share of the rows.
  const uint32_t share = (p.rows + p.groups_per_matrix - 1) / p.groups_per_matrix;
  const uint32_t end = (group + 1) * share < p.rows ? (group + 1) * share : p.rows;
  MSVD_DEVICE C* yq_k = v.yq_all + static_cast<int64_t>(k) * p.rows;
  MSVD_DEVICE const C* a_k = v.a_panel + static_cast<int64_t>(i) * p.rows - p.panel;
  for (uint32_t row = group * share + tid; row < end; row += p.threads)
    yq_k[row] = row < k ? C(0) : (row == k ? C(1) : h.scale * a_k[row]);
  group_barrier();
  if (i + 1 >= cols) return;  // the last column: nothing to its right

  // Lane j holds the panel's j-th entries of the corrections.
  const C t1_j = earlier ? t1[lane] : C(0);
  const C t2_j = earlier ? t2[lane] : C(0);
  // Row split 0 finishes its columns: y, the row brought up to date, and the sums.
  C alpha = C(0);
  C below = C(0);
  C dots = C(0);   // sum over c of Y[c, lane] a_ic (lane <= i)
  C dots2 = C(0);  // sum over c of Yp[c, lane] a_ic (lane < i)
  if (row_split == 0) {
    MSVD_UNROLL
    for (uint32_t q = 0; q < 4; ++q) {
      const uint32_t c = first + q;
      C raw = C(0);
      for (uint32_t split = 0; split < row_splits; ++split)
        raw += split_dots[split * p.extent + column_set * 4 + q];
      if (c >= cols) continue;
      const C dot = a_i[q] + h.scale * raw;  // A[i.., c]^T v
      const C y_cj = y_j[q];
      const C yp_cj = yp_j[q];
      const C y_c = h.tau * (dot - simd_reduce_sum(y_cj * t1_j + yp_cj * t2_j));
      // Row i of column c: A[i, c] - Y[c, 0..i] (row i of V) - Yp[c, 0..i-1] X[i, 0..i-1].
      const C a_ic = a_i[q] - simd_reduce_sum(y_cj * head_j + yp_cj * x_ij) - y_c;
      if (lane == 0) {
        v.y(c, i) = y_c;
        v.row[c] = a_ic;
      }
      if (c == i + 1) {
        alpha += a_ic;
      } else {
        below += a_ic * a_ic;
        dots += (lane == i ? y_c : y_cj) * a_ic;
        dots2 += yp_cj * a_ic;
      }
    }
    if (lane == 0) {
      warp_sums[column_set * kBrdRecord + 0] = alpha;
      warp_sums[column_set * kBrdRecord + 1] = below;
    }
    warp_sums[column_set * kBrdRecord + kBrdDots + lane] = lane <= i ? dots : C(0);
    warp_sums[column_set * kBrdRecord + kBrdDots2 + lane] = dots2;
    if (lane < kBrdRecord - kBrdDots2 - kBrdPanel)
      warp_sums[column_set * kBrdRecord + kBrdDots2 + kBrdPanel + lane] = C(0);
  }
  group_barrier();
  // The group's record: the sums of its column sets added.
  MSVD_DEVICE C* record = v.row_partials + int64_t{group} * kBrdRecord;
  for (uint32_t slot = tid; slot < kBrdRecord; slot += p.threads) {
    C sum = C(0);
    for (uint32_t w = 0; w < column_sets; ++w) sum += warp_sums[w * kBrdRecord + slot];
    record[slot] = sum;
  }
}

// A guarded pass of bidiagonal_row's GEMV: A[r, c] for c = c0, c0 + across, .. (kBrdUnroll of
// them; past `cols`, column `spare`'s, which the sum drops), loaded apart from row[c] so that
// the first pass's loads can come before the wait for the previous launch, which writes row.
template <typename C>
struct BrdPass {
  C a[kBrdUnroll];
};
template <typename C>
MSVD_INLINE BrdPass<C> brd_load_pass(MSVD_DEVICE const C* a_row, int64_t ld, uint32_t c0,
                                     uint32_t across, uint32_t cols, uint32_t spare) {
  BrdPass<C> pass;
  MSVD_UNROLL
  for (uint32_t q = 0; q < kBrdUnroll; ++q) {
    const uint32_t c = c0 + q * across;
    pass.a[q] = a_row[(c < cols ? c : spare) * ld];
  }
  return pass;
}
// raw plus the pass's products with row[c], c < cols.
template <typename C>
MSVD_INLINE C brd_add_pass(C raw, BrdPass<C> pass, MSVD_DEVICE const C* row, uint32_t c0,
                           uint32_t across, uint32_t cols, uint32_t spare) {
  C u[kBrdUnroll];
  MSVD_UNROLL
  for (uint32_t q = 0; q < kBrdUnroll; ++q) {
    const uint32_t c = c0 + q * across;
    u[q] = row[c < cols ? c : spare];
  }
  MSVD_UNROLL
  for (uint32_t q = 0; q < kBrdUnroll; ++q) raw += c0 + q * across < cols ? pass.a[q] * u[q] : C(0);
  return raw;
}

// Step i's row reflector and x, then column i + 1 (see the top). Groups: batch x
// groups_per_matrix, p.extent trailing rows each. Runs only when column k has a right neighbour.
template <typename P, typename T, typename C>
MSVD_INLINE void bidiagonal_row(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                MSVD_DEVICE C*, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                                MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                ThreadContext ctx) {
  const BrdStep<C> st = brd_step(p, w0, ctx);
  const uint32_t matrix = st.matrix;
  const uint32_t group = st.group;
  const uint32_t tid = ctx.thread_index;
  const uint32_t lane = ctx.lane;
  const uint32_t warps = p.threads / kSimdWidth;
  const BrdMatrix<C> v = st.v;
  const uint32_t i = p.step;
  const uint32_t k = p.panel + i;
  const uint32_t rows = st.rows;  // M, trailing rows from the panel on
  const uint32_t cols = st.cols;  // N
  MSVD_THREADGROUP C* warp_sums = scratch;
  MSVD_THREADGROUP C* sums = scratch + warps * kBrdRecord;
  MSVD_THREADGROUP C* t3 = sums + kBrdRecord;
  MSVD_THREADGROUP C* t4 = t3 + kBrdPanel;
  MSVD_THREADGROUP C* xs = t4 + kBrdPanel;  // this group's rows: x, then the new column
  MSVD_THREADGROUP C* column = xs + kBrdPanel;
  MSVD_THREADGROUP C* partial = column + kBrdPanel;  // threads: the dot products by SIMD group
  MSVD_DEVICE const C* row = v.row;                  // row i brought up to date, local columns
  const bool next_column = i + 1 < p.width;

  // The loads that no reflector decides come first: the raw GEMV A[r, i+2..] row[i+2..]
  // (u = (1 at i + 1, scale * row beyond) joins it later), then, issued together, the previous
  // launch's records, what the epilogue needs and the first of this lane's correction terms.
  // (Issued before the GEMV, as in bidiagonal_column, they would take the registers its loads
  // need: this kernel has 64 at 1024 threads.) A SIMD group spans the group's p.extent rows and
  // kSimdWidth / p.extent columns (lane = row + extent * column), the SIMD groups share the
  // columns, kBrdUnroll at a time each so that many loads are in flight.
  const uint32_t extent = p.extent;
  const uint32_t row_lane = lane % extent;
  const uint32_t column_lane = lane / extent;
  const uint32_t across = warps * (kSimdWidth / extent);  // columns a pass of the group takes
  const uint32_t base = i + 1 + group * extent;           // the group's first row
  const uint32_t r = base + row_lane;
  const bool mine = r < rows;
  const uint32_t r_safe = mine ? r : i + 1;  // rows beyond read a valid row, unused
  const uint32_t slot = ctx.simd_group * (kSimdWidth / extent) + column_lane;
  MSVD_DEVICE const C* a_row = &v.a(r_safe, 0);
  const int64_t ld = p.rows;
  const int64_t pass_stride = static_cast<int64_t>(across) * ld;
  // First (before the wait, with early loads), what the previous launch (bidiagonal_column)
  // does not write: the first pass's A[r, c] (a column past the matrix reads column i + 1) and
  // this lane's A[r, i + 1] for the epilogue.
  if (p.early_loads == 0) wait_for_previous_kernel();
  const uint32_t own_row = base + lane;
  const bool owned = lane < extent && own_row < rows;
  const C a_next = ctx.simd_group == 0 && owned ? v.a(own_row, i + 1) : C(0);
  uint32_t c0 = i + 2 + slot;
  const BrdPass<C> first_pass = brd_load_pass(a_row, ld, c0, across, cols, i + 1);
  if (p.early_loads != 0) wait_for_previous_kernel();
  C raw = brd_add_pass(C(0), first_pass, row, c0, across, cols, i + 1);
  c0 += across * kBrdUnroll;
  // Then whole passes of kBrdUnroll columns, and one partial pass: loads that no condition
  // guards are issued together, where guarded ones went out one pair at a time.
  for (; c0 + (kBrdUnroll - 1) * across < cols; c0 += across * kBrdUnroll) {
    MSVD_DEVICE const C* a_c0 = a_row + c0 * ld;
    C a_rc[kBrdUnroll], u_c[kBrdUnroll];
    MSVD_UNROLL
    for (uint32_t q = 0; q < kBrdUnroll; ++q) {
      a_rc[q] = a_c0[q * pass_stride];
      u_c[q] = row[c0 + q * across];
    }
    C pass = C(0);
    MSVD_UNROLL
    for (uint32_t q = 0; q < kBrdUnroll; q += 2)
      pass += a_rc[q] * u_c[q] + a_rc[q + 1] * u_c[q + 1];
    raw += pass;
  }
  if (c0 < cols)  // the last, partial pass (a column past the matrix reads column c0)
    raw = brd_add_pass(raw, brd_load_pass(a_row, ld, c0, across, cols, c0), row, c0, across, cols,
                       c0);
  const BrdEarlyRecords<C> early =
      brd_load_early_records(v.row_partials, p.partial_groups, ctx, p.threads);
  // From the epilogue on a lane is a row (lane < extent: row base + lane; a_next above): the
  // rows of Y and Yp that t3 and t4 start from.
  const C y_next = tid <= i ? v.y(i + 1, tid) : C(0);
  const C yp_next = tid < i ? v.yp(i + 1, tid) : C(0);
  // Each lane takes its share of the panel columns j <= i of the corrections, every across-th
  // from `slot`, so that the loads of a row's corrections are in flight together rather than
  // one after another in one SIMD group. Column i + 1's, V[r, 0..i] Y[i + 1, 0..i] +
  // X[r, 0..i-1] Yp[i + 1, 0..i-1], needs no reflector; x's, V t3 + X t4, follows once t3 and
  // t4 are known (its loads then hit the cache). Its first terms are loaded here.
  const bool corrects = mine && slot <= i;
  const C yq_first = corrects ? v.yq(r, slot) : C(0);
  const C y_first = corrects ? v.y(i + 1, slot) : C(0);
  const C x_first = corrects && slot < i ? v.x(r, slot) : C(0);
  const C yp_first = corrects && slot < i ? v.yp(i + 1, slot) : C(0);
  C column_part = yq_first * y_first + x_first * yp_first;
  if (mine) {
    for (uint32_t j = slot + across; j <= i; j += across) {
      column_part += v.yq(r, j) * v.y(i + 1, j);
      if (j < i) column_part += v.x(r, j) * v.yp(i + 1, j);
    }
  }

  brd_reduce_records(early, v.row_partials, p.partial_groups, warp_sums, sums, ctx, p.threads);
  const Reflector<C> h = householder_reflector(sums[0], sums[1]);
  // t3 = Y^T u (j <= i) and t4 = U_panel u (j < i).
  if (tid <= i) t3[tid] = y_next + h.scale * sums[kBrdDots + tid];
  if (tid < i) t4[tid] = yp_next + h.scale * sums[kBrdDots2 + tid];
  if (group == 0 && tid == 0) {
    v.de[p.cols + k] = h.beta;
    w2[static_cast<int64_t>(matrix) * p.p_t_batch_stride + householder_tau_index(k, p.cols - 1)] =
        h.tau;
  }
  // u into Yp's column k: zeros up to row k, 1 at k + 1.
  const uint32_t share = (p.cols + p.groups_per_matrix - 1) / p.groups_per_matrix;
  const uint32_t end = (group + 1) * share < p.cols ? (group + 1) * share : p.cols;
  MSVD_DEVICE C* yp_k = v.yp_all + static_cast<int64_t>(k) * p.cols;
  for (uint32_t c = group * share + tid; c < end; c += p.threads)
    yp_k[c] = c <= k ? C(0) : (c == k + 1 ? C(1) : h.scale * row[c - p.panel]);
  group_barrier();

  // This lane's part of x / tau - A[r, i + 1]: scale times the raw GEMV, less the corrections.
  // (warp_sums is free again: the records were reduced.)
  MSVD_THREADGROUP C* column_parts = warp_sums;
  C x_part = h.scale * raw;
  if (mine) {
    for (uint32_t j = slot; j <= i; j += across) {
      x_part -= v.yq(r, j) * t3[j];
      if (j < i) x_part -= v.x(r, j) * t4[j];
    }
  }
  // The lanes of one row add their columns' parts.
  for (uint32_t mask = extent; mask < kSimdWidth; mask <<= 1) {
    x_part += shuffle_xor(x_part, mask);
    column_part += shuffle_xor(column_part, mask);
  }
  if (column_lane == 0) {
    partial[ctx.simd_group * extent + row_lane] = mine ? x_part : C(0);
    column_parts[ctx.simd_group * extent + row_lane] = column_part;
  }
  group_barrier();
  if (ctx.simd_group == 0) {
    C x = C(0);
    C col = C(0);
    if (owned) {
      C x_sum = C(0);
      C column_sum = C(0);
      for (uint32_t w = 0; w < warps; ++w) {
        x_sum += partial[w * extent + lane];
        column_sum += column_parts[w * extent + lane];
      }
      x = h.tau * (a_next + x_sum);
      v.x(own_row, i) = x;
      if (next_column) {
        // Column i + 1: A[r, i + 1] - V[r, 0..i] Y[i + 1, 0..i] - X[r, 0..i] Yp[i + 1, 0..i],
        // the last term with Yp[i + 1, i] = 1 (this launch writes it).
        col = a_next - column_sum - x;
        v.a(own_row, i + 1) = col;
      }
    }
    xs[lane] = x;
    column[lane] = col;
  }
  group_barrier();
  if (!next_column) return;
  // The record for column i + 1's reflector: alpha (row i + 1), the norm below it, and its dots
  // with V and X over the rows below, every SIMD group a share of the panel columns.
  const C col = column[lane];
  const bool below_head = owned && own_row > i + 1;
  MSVD_DEVICE C* record = v.column_partials + int64_t{group} * kBrdRecord;
  if (ctx.simd_group == 0) {
    const C alpha = simd_reduce_sum(owned && own_row == i + 1 ? col : C(0));
    const C below = simd_reduce_sum(below_head ? col * col : C(0));
    if (lane == 0) {
      record[0] = alpha;
      record[1] = below;
    }
  }
  for (uint32_t j = ctx.simd_group; j < kBrdPanel; j += warps) {
    C dot1 = C(0);
    C dot2 = C(0);
    if (j <= i && below_head) {
      dot1 = v.yq(own_row, j) * col;
      dot2 = (j < i ? v.x(own_row, j) : xs[lane]) * col;
    }
    dot1 = simd_reduce_sum(dot1);
    dot2 = simd_reduce_sum(dot2);
    if (lane == 0) {
      record[kBrdDots + j] = dot1;
      record[kBrdDots2 + j] = dot2;
    }
  }
  if (tid < kBrdRecord - kBrdDots2 - kBrdPanel) record[kBrdDots2 + kBrdPanel + tid] = C(0);
}

// Threadgroup memory of bidiagonal_tail for a tail of rows x cols, in elements: the SIMD
// groups' two sums, the right reflector u (cols), a partial of z a thread, then the tail itself
// (column-major, leading dimension rows).
MSVD_HOST_DEVICE uint32_t brd_tail_scratch_elements(uint32_t threads, uint32_t rows,
                                                    uint32_t cols) {
  return 2 * (threads / kSimdWidth) + cols + threads + rows * cols;
}

// The reduction of A[p0.., p0..] (p0 = p.panel, a panel boundary: the trailing matrix is up to
// date) to the end, by one group per matrix, one column at a time, with the tail in threadgroup
// memory: a column is a few barriers and passes over threadgroup memory where it would be two
// launches. The left reflector of column i is applied to the columns right of it (a SIMD group
// a column, lanes over rows), then the right reflector of row i, formed from the row that
// update left, to the rows below (lanes over rows, the SIMD groups sharing the columns).
// Reflectors, tau and d / e go where the column and row kernels put them; A itself is left as
// it was. Groups: batch, p.threads each.
template <typename P, typename T, typename C>
MSVD_INLINE void bidiagonal_tail(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                 MSVD_DEVICE C* w1, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                                 MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                 ThreadContext ctx) {
  wait_for_previous_kernel();
  const uint32_t matrix = ctx.group;
  const BrdMatrix<C> v = brd_matrix(p, w0, matrix);
  const uint32_t rows = p.rows - p.panel;  // M
  const uint32_t cols = p.cols - p.panel;  // N
  const uint32_t tid = ctx.thread_index;
  const uint32_t lane = ctx.lane;
  const uint32_t warp = ctx.simd_group;
  const uint32_t warps = p.threads / kSimdWidth;
  MSVD_THREADGROUP C* warp_sums = scratch;  // warps x 2
  MSVD_THREADGROUP C* u = warp_sums + 2 * warps;
  MSVD_THREADGROUP C* z_parts = u + cols;
  MSVD_THREADGROUP C* tail = z_parts + p.threads;
  for (uint32_t c = 0; c < cols; ++c)
    for (uint32_t r = tid; r < rows; r += p.threads) tail[c * rows + r] = v.a(r, c);
  group_barrier();
  for (uint32_t i = 0; i < cols; ++i) {
    const uint32_t k = p.panel + i;
    // Column i's reflector: v = (1, scale A[i+1.., i]).
    C below = C(0);
    for (uint32_t r = i + 1 + tid; r < rows; r += p.threads)
      below += tail[i * rows + r] * tail[i * rows + r];
    below = group_reduce_sum(below, warp_sums, ctx, p.threads);
    const Reflector<C> h = householder_reflector(tail[i * rows + i], below);
    if (tid == 0) {
      v.de[k] = h.beta;
      w1[static_cast<int64_t>(matrix) * p.q_t_batch_stride + householder_tau_index(k, p.cols)] =
          h.tau;
    }
    MSVD_DEVICE C* yq_k = v.yq_all + static_cast<int64_t>(k) * p.rows;
    for (uint32_t row = tid; row < p.rows; row += p.threads)
      yq_k[row] = row < k ? C(0) : (row == k ? C(1) : h.scale * tail[i * rows + row - p.panel]);

    // A[i.., c] -= tau (v . A[i.., c]) v for c > i; lane 0 holds row i, whose entries right of
    // the diagonal the right reflector is formed from (alpha at i + 1, the norm beyond).
    C row_alpha = C(0);
    C row_below = C(0);
    for (uint32_t c = i + 1 + warp; c < cols; c += warps) {
      C dot = C(0);
      for (uint32_t r = i + lane; r < rows; r += kSimdWidth)
        dot += (r == i ? C(1) : h.scale * tail[i * rows + r]) * tail[c * rows + r];
      const C coefficient = h.tau * simd_reduce_sum(dot);
      for (uint32_t r = i + lane; r < rows; r += kSimdWidth)
        tail[c * rows + r] -= coefficient * (r == i ? C(1) : h.scale * tail[i * rows + r]);
      if (lane == 0) {
        const C a_ic = tail[c * rows + i];
        if (c == i + 1)
          row_alpha = a_ic;
        else
          row_below += a_ic * a_ic;
      }
    }
    if (lane == 0) {
      warp_sums[2 * warp] = row_alpha;
      warp_sums[2 * warp + 1] = row_below;
    }
    group_barrier();
    if (i + 1 >= cols) break;  // the last column: no right reflector
    const C alpha = simd_sum_of_parts(warp_sums, warps, 2, ctx);
    const C norm_below = simd_sum_of_parts(warp_sums + 1, warps, 2, ctx);
    const Reflector<C> g = householder_reflector(alpha, norm_below);
    if (tid == 0) {
      v.de[p.cols + k] = g.beta;
      w2[static_cast<int64_t>(matrix) * p.p_t_batch_stride + householder_tau_index(k, p.cols - 1)] =
          g.tau;
    }
    // u = (1 at i + 1, scale A[i, i+2..]), and into Yp's column k (global columns).
    for (uint32_t c = i + 1 + tid; c < cols; c += p.threads)
      u[c] = c == i + 1 ? C(1) : g.scale * tail[c * rows + i];
    MSVD_DEVICE C* yp_k = v.yp_all + static_cast<int64_t>(k) * p.cols;
    for (uint32_t c = tid; c < p.cols; c += p.threads)
      yp_k[c] = c <= k ? C(0) : (c == k + 1 ? C(1) : g.scale * tail[(c - p.panel) * rows + i]);
    group_barrier();  // u is complete; every thread has read warp_sums

    // A[r, i+1..] -= tau (A[r, i+1..] . u) u for r > i: a lane a row, so that a SIMD group
    // reads 32 consecutive rows of a column at once. With fewer row blocks than SIMD groups,
    // `split` SIMD groups share a block's columns and add their parts of z.
    const uint32_t below_rows = rows - i - 1;
    const uint32_t blocks = (below_rows + kSimdWidth - 1) / kSimdWidth;
    if (blocks >= warps) {
      for (uint32_t block = warp; block < blocks; block += warps) {
        const uint32_t r = i + 1 + block * kSimdWidth + lane;
        if (r >= rows) continue;
        C z = C(0);
        for (uint32_t c = i + 1; c < cols; ++c) z += tail[c * rows + r] * u[c];
        z *= g.tau;
        for (uint32_t c = i + 1; c < cols; ++c) tail[c * rows + r] -= z * u[c];
      }
    } else {
      // Fewer row blocks than SIMD groups: `split` of them share a block, each every split-th
      // column from its `share`, and add their parts of z (SIMD groups past the last block
      // only pass the barrier).
      const uint32_t split = warps / blocks;
      const uint32_t block = warp / split;
      const uint32_t share = warp % split;
      const uint32_t r = i + 1 + block * kSimdWidth + lane;
      const bool mine = block < blocks && r < rows;
      C z = C(0);
      if (mine)
        for (uint32_t c = i + 1 + share; c < cols; c += split) z += tail[c * rows + r] * u[c];
      z_parts[warp * kSimdWidth + lane] = z;
      group_barrier();
      if (mine) {
        z = C(0);
        for (uint32_t s = 0; s < split; ++s) z += z_parts[(block * split + s) * kSimdWidth + lane];
        z *= g.tau;
        for (uint32_t c = i + 1 + share; c < cols; c += split) tail[c * rows + r] -= z * u[c];
      }
    }
    group_barrier();
  }
}

}  // namespace kernels
}  // namespace metalsvd
