// The second stage of a two-stage bidiagonalisation: an n x n upper band matrix (`band`
// superdiagonals, the first stage's output) to upper bidiagonal form by bulge chasing with
// Householder reflectors (Haidar, Ltaief and Dongarra's scheme, as PLASMA's gbtype kernels).
//
// Sweep s clears row s beyond its superdiagonal, then chases the bulge this creates down the
// band, one task a block of `band` rows:
//   task 0: P = {s}, N = [s + 1, s + 1 + band)
//   task k: P = [s + 1 + (k - 1) band, + band), N = the band columns right of P
// A task applies the sweep's pending left reflector (from its previous task) to A(P, N), clears
// row P's first beyond the band edge with a right reflector on the columns N (applied to the
// rows of P and N), then clears column N's first below the diagonal with a left reflector on
// the rows N (applied to A(N, N)); that left reflector is the next task's pending one. Fill stays
// within 2 band superdiagonals and band subdiagonals, which the band storage holds.
//
// Task k's reflectors act on the rows (left) and columns (right) [s + 1 + k band, + band). Kept
// for the vectors, they are band_back_transform.h's to apply.
//
// Task k of sweep s + 1 overlaps tasks k and k + 1 of sweep s and nothing later, so sweeps start
// two time steps apart and every task of a time step touches its own block. A time step is one
// launch (band_bidiagonal_step), its tasks spread over the device, a SIMD group each, a lane a
// column of the task's block held in registers; the launch boundary orders the steps. A task's
// sums over the columns are butterflies of shuffles and its left reflector is broadcast from
// lane 0, so a task needs no threadgroup memory and no barrier. (One group a matrix walking
// the steps, a barrier between them, kept a time step's tasks on one multiprocessor, a few a
// SIMD group.)
//
// The band is stored by rows: lane c holds a column of the task's block, so a load or store of
// one of its rows is 32 consecutive elements of a stored row, one or two cache lines. Stored by
// columns, each such access touched a line per lane (32 wavefronts in the L1 where there is
// one), and the loads and stores of a task were most of a time step.
#pragma once

#include "dialect.h"
#include "group_reduce.h"
#include "householder.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

// The widest band: a lane a column of a task's block.
MSVD_CONSTANT constexpr uint32_t kBandMax = kSimdWidth;

struct BandBidiagonalParams {
  int64_t a_batch_stride;     // w0: the band reduction's A, B in its band; leading dimension lda
  int64_t work_batch_stride;  // w1: band storage, then the reflectors (kBandReflectorSize each)
  int64_t de_batch_stride;    // w2: d (n), then e (n - 1) from e_offset
  int64_t right_offset;       // elements from the left reflectors to the right ones; 0: not kept
  uint32_t batch;
  uint32_t n;
  uint32_t lda;
  uint32_t band;  // b <= kBandMax
  uint32_t threads;
  uint32_t groups;  // a matrix's groups (every kernel's groups: batch x groups)
  uint32_t e_offset;
  uint32_t keep;    // 1: every task's reflectors kept (band_reflector_slot); 0: a slot a sweep,
                    // each task's left reflector overwriting the last
  uint32_t step;    // band_bidiagonal_step: the time step,
  uint32_t newest;  // the newest sweep with a task in it,
  uint32_t tasks;   // and how many sweeps have one (newest, newest - 1, ...)
};

// Band storage: row i holds columns i - b .. i + 2b (fill reaches b subdiagonals and 2b
// superdiagonals), (i, j) at i (3b + 1) + (j - i + b).
MSVD_HOST_DEVICE uint32_t band_storage_ld(uint32_t band) { return 3 * band + 1; }
// Where (i, j) lies in the band storage (i - b <= j <= i + 2b).
MSVD_HOST_DEVICE int64_t band_storage_index(uint32_t band, uint32_t i, uint32_t j) {
  return static_cast<int64_t>(i) * band_storage_ld(band) + (j + band - i);
}
// Elements the reflectors are aligned to: the back-transformation reads a vector a quad at a
// time (load_quad).
MSVD_CONSTANT constexpr uint32_t kBandReflectorAlignment = 4;
// A reflector slot: the vector (kBandMax elements, 1 first, zeros past its length, also past a
// band narrower than kBandMax), then tau, then padding to a multiple of the alignment, so that
// slots stay aligned as the first is (band_reflectors_offset), whatever the band.
MSVD_CONSTANT constexpr uint32_t kBandReflectorTau = kBandMax;
MSVD_CONSTANT constexpr uint32_t kBandReflectorSize = kBandMax + kBandReflectorAlignment;
static_assert(kBandReflectorSize % kBandReflectorAlignment == 0, "slots keep the alignment");
static_assert(kBandReflectorTau % kBandReflectorAlignment == 0, "tau opens an aligned quad");
// Where a matrix's reflectors start in its part of the workspace (which starts aligned and is a
// multiple of the alignment long): past the band storage, rounded up to the alignment.
MSVD_HOST_DEVICE int64_t band_reflectors_offset(uint32_t n, uint32_t band) {
  const int64_t storage = static_cast<int64_t>(n) * band_storage_ld(band);
  return (storage + kBandReflectorAlignment - 1) / kBandReflectorAlignment *
         kBandReflectorAlignment;
}
// The sweeps that clear something.
MSVD_HOST_DEVICE uint32_t band_sweeps(uint32_t n) { return n > 2 ? n - 2 : 0u; }
// Sweep s's task k runs at time step 2 s + k.
// Tasks of sweep s (for s + 2 < n): task k exists while its columns N start before n.
MSVD_HOST_DEVICE uint32_t band_sweep_tasks(uint32_t n, uint32_t band, uint32_t s) {
  return 1 + (n - 2 - s) / band;
}
// The most tasks a sweep has: sweep 0's.
MSVD_HOST_DEVICE uint32_t band_max_tasks(uint32_t n, uint32_t band) {
  return n > 2 ? band_sweep_tasks(n, band, 0) : 0u;
}
// Where kept reflectors lie: task after task, each task's sweeps in order, so that the
// back-transformation's block (one task's reflectors of consecutive sweeps) is consecutive
// slots, and no slot is spent on a task a sweep does not have (half of them, against a slot
// every sweep and task). Task k's sweeps are 0 .. n - 2 - k band (all n - 2 for task 0), so
// the slots before task k's are n - 2 + sum over 0 < k' < k of n - 1 - k' band.
MSVD_HOST_DEVICE int64_t band_task_first_slot(uint32_t n, uint32_t band, uint32_t k) {
  if (k == 0) return 0;
  const int64_t later = k - 1;  // tasks 1 .. k - 1: (n - 1) each, less band (1 + .. + k - 1)
  return band_sweeps(n) + later * (n - 1) - static_cast<int64_t>(band) * later * k / 2;
}
// The slot of sweep s's task k.
MSVD_HOST_DEVICE int64_t band_reflector_slot(uint32_t n, uint32_t band, uint32_t s, uint32_t k) {
  return band_task_first_slot(n, band, k) + s;
}
// Slots of one side's kept reflectors.
MSVD_HOST_DEVICE int64_t band_reflector_slots(uint32_t n, uint32_t band) {
  return band_task_first_slot(n, band, band_max_tasks(n, band));
}

// Rows whose right-reflector dots one butterfly sums (simd_row_sums): few enough that the
// block's registers and the chunk's fit; 16 shuffles a chunk, against 40 a row at a time.
MSVD_CONSTANT constexpr uint32_t kBandRowChunk = 8;

// A lane's part of a task's block: its column's values of rows P or of rows N.
template <typename C>
using BlockRows = SimdRows<C, kBandMax>;

// The right reflector (v in lane c, tau) applied to the first `count` rows of x in every lane,
// but row 0 where skip_first (the reflector's own row), a chunk of rows at a time.
template <typename C>
MSVD_INLINE BlockRows<C> apply_right_reflector(BlockRows<C> rows, uint32_t count, bool skip_first,
                                               C v, C tau, uint32_t lane) {
  MSVD_UNROLL
  for (uint32_t base = 0; base < kBandMax; base += kBandRowChunk) {
    if (base >= count) continue;  // uniform over the SIMD group
    SimdRows<C, kBandRowChunk> dots;
    MSVD_UNROLL
    for (uint32_t i = 0; i < kBandRowChunk; ++i)
      dots.x[i] = skip_first && base + i == 0 ? C(0) : rows.x[base + i] * v;
    dots = simd_row_sums(dots, lane);
    MSVD_UNROLL
    for (uint32_t i = 0; i < kBandRowChunk; ++i) rows.x[base + i] -= dots.x[i] * tau * v;
  }
  return rows;
}

// Task k of sweep s on the band storage `work`, by one SIMD group (every lane calls it).
template <typename C>
MSVD_INLINE void band_task(MSVD_CONSTANT const BandBidiagonalParams& p, MSVD_DEVICE C* work,
                           MSVD_DEVICE C* reflectors, uint32_t s, uint32_t k, ThreadContext ctx) {
  const uint32_t b = p.band;
  const uint32_t c = ctx.lane;
  const uint32_t np = k == 0 ? 1u : b;
  const uint32_t p0 = k == 0 ? s : s + 1 + (k - 1) * b;
  const uint32_t n0 = p0 + np;
  const uint32_t nc = p.n - n0 < b ? p.n - n0 : b;  // at least 1: the task exists
  const bool mine = c < nc;
  // The block: rows p0 .. p0 + np + nc of column n0 + c, one stored row (3b elements) apart;
  // rows P in pr, rows N in nr, so that every register is named by a constant.
  const int64_t down = band_storage_ld(b) - 1;
  MSVD_DEVICE C* col = work + band_storage_index(b, p0, n0 + (mine ? c : 0u));
  MSVD_DEVICE C* col_n = col + np * down;  // rows N (one pointer: each row a fixed multiple)
  BlockRows<C> pr;
  BlockRows<C> nr;
  MSVD_UNROLL
  for (uint32_t r = 0; r < kBandMax; ++r) {
    pr.x[r] = mine && r < np ? col[r * down] : C(0);
    nr.x[r] = mine && r < nc ? col_n[r * down] : C(0);
  }
  MSVD_DEVICE C* left_out =
      reflectors + (p.keep ? band_reflector_slot(p.n, b, s, k) : s) * kBandReflectorSize;
  // The pending left reflector (the previous task's, in its slot, or in this one where each
  // overwrites the last) on the rows P.
  if (k > 0) {
    MSVD_DEVICE const C* pending =
        p.keep ? reflectors + band_reflector_slot(p.n, b, s, k - 1) * kBandReflectorSize : left_out;
    const C tau = pending[kBandReflectorTau];
    if (tau != C(0)) {
      C dot = C(0);
      MSVD_UNROLL
      for (uint32_t r = 0; r < kBandMax; ++r)
        if (r < np) dot += pending[r] * pr.x[r];
      dot *= tau;
      MSVD_UNROLL
      for (uint32_t r = 0; r < kBandMax; ++r)
        if (r < np) pr.x[r] -= dot * pending[r];
    }
  }
  // Row p0 (rows P's first) beyond column n0: a right reflector on the columns N, applied to the
  // other rows of P and to N.
  const C alpha = simd_reduce_sum(c == 0 ? pr.x[0] : C(0));
  const C right_below = simd_reduce_sum(mine && c > 0 ? pr.x[0] * pr.x[0] : C(0));
  const Reflector<C> right = householder_reflector(alpha, right_below);
  const C v = c == 0 ? C(1) : (mine ? pr.x[0] * right.scale : C(0));
  if (mine) pr.x[0] = c == 0 ? right.beta : C(0);
  if (right.tau != C(0)) {
    pr = apply_right_reflector(pr, np, true, v, right.tau, c);
    nr = apply_right_reflector(nr, nc, false, v, right.tau, c);
  }
  // Column n0 (lane 0's rows N) below row n0: a left reflector on the rows N, its vector
  // broadcast from lane 0 a row at a time.
  C below_part = C(0);
  MSVD_UNROLL
  for (uint32_t r = 1; r < kBandMax; ++r)
    if (r < nc) below_part += nr.x[r] * nr.x[r];
  const Reflector<C> left =
      householder_reflector(simd_broadcast(nr.x[0], 0u), simd_broadcast(below_part, 0u));
  // Its vector (1, lane 0's rows 1.. nc of N times scale) comes by broadcast twice, for the
  // dot and for the update, rather than held: the block already fills the registers.
  const bool update = c > 0 && mine && left.tau != C(0);
  C dot = nr.x[0];
  C own = c == 0 ? C(1) : C(0);  // element c of the vector, for the next task
  MSVD_UNROLL
  for (uint32_t r = 1; r < kBandMax; ++r) {
    if (r >= nc) continue;  // uniform over the SIMD group
    const C u = simd_broadcast(nr.x[r], 0u) * left.scale;
    dot += u * nr.x[r];
    if (r == c) own = u;
  }
  dot *= left.tau;
  MSVD_UNROLL
  for (uint32_t r = 1; r < kBandMax; ++r) {
    if (r >= nc) continue;
    const C u = simd_broadcast(nr.x[r], 0u) * left.scale;
    if (update) nr.x[r] -= dot * u;
  }
  if (update) nr.x[0] -= dot;
  if (c == 0) {
    MSVD_UNROLL
    for (uint32_t r = 0; r < kBandMax; ++r) nr.x[r] = r == 0 ? left.beta : C(0);
  }
  // Every lane writes its element of the slot's vector: zero past the reflector's length
  // (lanes past nc, which is at most b), so that the whole slot reads as the vector.
  left_out[c] = own;
  if (c == 0) left_out[kBandReflectorTau] = left.tau;
  if (p.right_offset != 0) {
    MSVD_DEVICE C* right_out = left_out + p.right_offset;
    right_out[c] = v;
    if (c == 0) right_out[kBandReflectorTau] = right.tau;
  }
  MSVD_UNROLL
  for (uint32_t r = 0; r < kBandMax; ++r) {
    if (mine && r < np) col[r * down] = pr.x[r];
    if (mine && r < nc) col_n[r * down] = nr.x[r];
  }
}

// The band of each matrix into band storage, zeros where fill will come. Groups: batch x
// p.groups, an element of the storage a thread.
template <typename P, typename T, typename C>
MSVD_INLINE void band_bidiagonal_load(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                      MSVD_DEVICE C* w1, MSVD_DEVICE C*, MSVD_DEVICE int32_t*,
                                      MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*,
                                      ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups;
  const uint32_t b = p.band;
  const uint32_t ld = band_storage_ld(b);
  const uint32_t idx = (ctx.group % p.groups) * p.threads + ctx.thread_index;
  if (idx >= p.n * ld) return;
  const uint32_t i = idx / ld;
  const uint32_t q = idx % ld;  // column j = i + q - b
  C value = C(0);
  if (q >= b && q <= 2 * b && i + q - b < p.n) {
    const uint32_t j = i + q - b;  // i <= j <= i + b
    value =
        w0[static_cast<int64_t>(matrix) * p.a_batch_stride + i + static_cast<int64_t>(j) * p.lda];
  }
  w1[static_cast<int64_t>(matrix) * p.work_batch_stride + idx] = value;
}

// Time step p.step: its tasks (sweeps p.newest, p.newest - 1, ..., p.tasks of them), a SIMD
// group each. Groups: batch x p.groups. No threadgroup memory: a SIMD group's lanes exchange by
// shuffles.
template <typename P, typename T, typename C>
MSVD_INLINE void band_bidiagonal_step(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C*,
                                      MSVD_DEVICE C* w1, MSVD_DEVICE C*, MSVD_DEVICE int32_t*,
                                      MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*,
                                      ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups;
  const uint32_t back = (ctx.group % p.groups) * (p.threads / kSimdWidth) + ctx.simd_group;
  if (back >= p.tasks) return;  // uniform over the SIMD group
  const uint32_t s = p.newest - back;
  MSVD_DEVICE C* work = w1 + static_cast<int64_t>(matrix) * p.work_batch_stride;
  MSVD_DEVICE C* reflectors = work + band_reflectors_offset(p.n, p.band);
  band_task(p, work, reflectors, s, p.step - 2 * s, ctx);
}

// B's diagonal d and superdiagonal e from the band storage. Groups: batch x p.groups, an i a
// thread.
template <typename P, typename T, typename C>
MSVD_INLINE void band_bidiagonal_diagonals(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C*,
                                           MSVD_DEVICE C* w1, MSVD_DEVICE C* w2,
                                           MSVD_DEVICE int32_t*, MSVD_DEVICE int32_t*,
                                           MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups;
  const uint32_t b = p.band;
  const uint32_t i = (ctx.group % p.groups) * p.threads + ctx.thread_index;
  if (i >= p.n) return;
  MSVD_DEVICE const C* work = w1 + static_cast<int64_t>(matrix) * p.work_batch_stride;
  MSVD_DEVICE C* de = w2 + static_cast<int64_t>(matrix) * p.de_batch_stride;
  de[i] = work[band_storage_index(b, i, i)];
  if (i + 1 < p.n) de[p.e_offset + i] = work[band_storage_index(b, i, i + 1)];
}

}  // namespace kernels
}  // namespace metalsvd
