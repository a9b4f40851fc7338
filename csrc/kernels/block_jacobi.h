// Blocked one-sided Jacobi SVD for matrices beyond one threadgroup. The columns of G (the
// scaled input) form 2p blocks of `block` columns; each sweep runs 2p - 1 rounds of the circle
// method, and a round orthogonalises p block pairs in parallel:
//   block_jacobi_gram         partial Gram matrices M = P^T P of each pair's columns P
//   block_jacobi_pair_eigen   M = W diag W^T by cyclic two-sided Jacobi, W the rotation
//   block_jacobi_rotate       [P | V_pair] <- [P | V_pair] W, written to the other copy of G
//                             and V in the block order of the next round
//   block_jacobi_sweep_end    after the last round: no pair rotated starts the polish sweeps
//                             (below); converged once they are done
// A sweep may instead form the Gram matrices and apply the rotations with the backend's batched
// GEMM (all pairs of a batch are one strided batch); block_jacobi_permute then moves the
// rotated blocks to the slots of the next round.
//   block_jacobi_norms/sort/write/complete   S = column norms, sorted; U, V normalised; null
//                             columns of U completed
// Convergence is decided on the device: once a matrix converges every kernel returns at once
// for it, so the host enqueues a fixed number of sweeps and never waits.
//
// Numerics as in the fused kernel (jacobi_small.h): the pair test is relative,
// |m_ij| > tol sqrt(m_ii m_jj), on Gram entries computed fresh from G every round, so the
// rounding of the inner rotations never accumulates across rounds.
#pragma once

#include "block_jacobi_params.h"
#include "compensated_dot.h"
#include "dialect.h"
#include "group_reduce.h"
#include "jacobi_rotation.h"
#include "svd_status.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

MSVD_INLINE bool block_jacobi_converged(MSVD_CONSTANT const BlockJacobiParams& p,
                                        MSVD_DEVICE const int32_t* state, uint32_t matrix) {
  return state[matrix * p.state_stride + kStateConverged] != 0;
}

// Polish sweeps. The pair test's tol = sqrt(m) eps is the worst-case rounding of a Gram entry
// summed in float32, and it leaves that much coupling between columns: a U orthogonal only to
// about 2 sqrt(m) eps, and close singular values shifted by up to about as much of sigma. Once
// a matrix passes it, up to polish_sweeps more sweeps sum the Gram entries in twice the
// precision (compensated_dot.h) and rotate every pair coupled by more than kPolishTolerance eps,
// a few times the coupling a rotation leaves (its rounding, and W's). Such a test could fail
// forever (a pair of columns of very different norms keeps the float32 eigensolver's
// eps ||M|| / sqrt(m_ii m_jj)), so the polish sweeps are counted, not converged.
MSVD_CONSTANT constexpr uint32_t kPolishTolerance = 4;

MSVD_INLINE bool block_jacobi_polishing(MSVD_CONSTANT const BlockJacobiParams& p,
                                        MSVD_DEVICE const int32_t* state, uint32_t matrix) {
  return state[matrix * p.state_stride + kStatePolish] != 0;
}

// The partial Gram matrices of `pair` of `matrix` in w2 (gram_splits of them).
template <typename C>
MSVD_INLINE MSVD_DEVICE C* pair_grams(MSVD_CONSTANT const BlockJacobiParams& p, MSVD_DEVICE C* w2,
                                      uint32_t matrix, uint32_t pair) {
  const int64_t width = 2 * p.block;
  return w2 + (static_cast<int64_t>(matrix) * p.pairs + pair) * p.gram_splits * width * width;
}

// The rotation W (2 block x 2 block, column-major) of `pair` of `matrix` in w2.
template <typename C>
MSVD_INLINE MSVD_DEVICE C* pair_rotation(MSVD_CONSTANT const BlockJacobiParams& p,
                                         MSVD_DEVICE C* w2, uint32_t matrix, uint32_t pair) {
  const int64_t width = 2 * p.block;
  return w2 + p.rotation_offset + (static_cast<int64_t>(matrix) * p.pairs + pair) * width * width;
}

// `matrix`'s G (on_g) or V: the copy a round reads (src_parity) and the copy it writes.
template <typename C>
struct RoundCopies {
  MSVD_DEVICE const C* src;
  MSVD_DEVICE C* dst;
};
template <typename C>
MSVD_INLINE RoundCopies<C> round_copies(MSVD_CONSTANT const BlockJacobiParams& p, MSVD_DEVICE C* w0,
                                        MSVD_DEVICE C* w1, bool on_g, uint32_t matrix) {
  const int64_t parity_stride = on_g ? p.g_parity_stride : p.v_parity_stride;
  MSVD_DEVICE C* base = (on_g ? w0 : w1) +
                        static_cast<int64_t>(matrix) * (on_g ? p.g_batch_stride : p.v_batch_stride);
  RoundCopies<C> c;
  c.src = base + static_cast<int64_t>(p.src_parity) * parity_stride;
  c.dst = base + static_cast<int64_t>(1 - p.src_parity) * parity_stride;
  return c;
}

// Rows of G a Gram group stages in threadgroup memory at a time.
MSVD_CONSTANT constexpr uint32_t kGramTileRows = 32;

// 4 x 4 tiles in the upper triangle (diagonal included) of a width x width Gram matrix.
MSVD_HOST_DEVICE uint32_t gram_tiles(uint32_t width) { return width / 4 * (width / 4 + 1) / 2; }

// Groups: batch x pairs x gram_splits; threads at least gram_tiles(width). Each thread sums a
// 4 x 4 tile of the pair's Gram matrix over one slice of the staged rows, so that every
// threadgroup-memory read feeds four products (with one entry a thread, two reads fed one
// product, and threadgroup memory, not device memory, bounded the kernel); the slices are added
// at the end. Scratch: width x max(kGramTileRows + 1, width).
template <typename P, typename T, typename C>
MSVD_INLINE void block_jacobi_gram(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                   MSVD_DEVICE C*, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t* state,
                                   MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                   ThreadContext ctx) {
  const uint32_t split = ctx.group % p.gram_splits;
  const uint32_t pair = (ctx.group / p.gram_splits) % p.pairs;
  const uint32_t matrix = ctx.group / (p.gram_splits * p.pairs);
  if (block_jacobi_converged(p, state, matrix)) return;
  const uint32_t width = 2 * p.block;
  const uint32_t tid = ctx.thread_index;
  MSVD_DEVICE const C* g = w0 + static_cast<int64_t>(p.src_parity) * p.g_parity_stride +
                           static_cast<int64_t>(matrix) * p.g_batch_stride +
                           static_cast<int64_t>(pair) * width * p.ldg;
  const uint32_t chunk = (p.rows + p.gram_splits - 1) / p.gram_splits;
  const uint32_t row_begin = split * chunk;
  const uint32_t row_end = row_begin + chunk < p.rows ? row_begin + chunk : p.rows;

  // This thread's tile (rows 4 ti.., columns 4 tj.., ti <= tj) and slice of the staged rows.
  // Threads of a SIMD group share a slice, so they read the same row: broadcasts, no conflicts.
  const uint32_t tiles = gram_tiles(width);
  const uint32_t by_threads = p.threads / tiles;
  const uint32_t slices = by_threads < kGramTileRows ? by_threads : kGramTileRows;
  const uint32_t slice = tid / tiles;
  uint32_t ti = 0;
  uint32_t tj = tid % tiles;
  while (tj >= width / 4 - ti) {
    tj -= width / 4 - ti;
    ++ti;
  }
  tj += ti;
  const bool compensated = block_jacobi_polishing(p, state, matrix);
  C acc[4][4];
  C err[4][4];  // the rounding errors of acc, when compensated
  MSVD_UNROLL
  for (uint32_t a = 0; a < 4; ++a) {
    MSVD_UNROLL
    for (uint32_t b = 0; b < 4; ++b) {
      acc[a][b] = C(0);
      err[a][b] = C(0);
    }
  }
  const uint32_t ld = kGramTileRows + 1;
  MSVD_THREADGROUP const C* xs = scratch + 4 * ti * ld;
  MSVD_THREADGROUP const C* ys = scratch + 4 * tj * ld;
  for (uint32_t row0 = row_begin; row0 < row_end; row0 += kGramTileRows) {
    for (uint32_t idx = tid; idx < kGramTileRows * width; idx += p.threads) {
      const uint32_t r = idx % kGramTileRows;
      const uint32_t c = idx / kGramTileRows;
      scratch[c * ld + r] = row0 + r < row_end ? g[c * p.ldg + row0 + r] : C(0);
    }
    group_barrier();
    for (uint32_t r = slice; slice < slices && r < kGramTileRows; r += slices) {
      C x[4];
      C y[4];
      MSVD_UNROLL
      for (uint32_t a = 0; a < 4; ++a) x[a] = xs[a * ld + r];
      MSVD_UNROLL
      for (uint32_t b = 0; b < 4; ++b) y[b] = ys[b * ld + r];
      if (compensated) {
        MSVD_UNROLL
        for (uint32_t a = 0; a < 4; ++a) {
          MSVD_UNROLL
          for (uint32_t b = 0; b < 4; ++b) {
            CompensatedSum<C> s;
            s.sum = acc[a][b];
            s.error = err[a][b];
            s = compensated_fma(s, x[a], y[b]);
            acc[a][b] = s.sum;
            err[a][b] = s.error;
          }
        }
      } else {
        MSVD_UNROLL
        for (uint32_t a = 0; a < 4; ++a) {
          MSVD_UNROLL
          for (uint32_t b = 0; b < 4; ++b) acc[a][b] += x[a] * y[b];
        }
      }
    }
    group_barrier();
  }
  // The slices' sums, one slice after another, into the upper triangle of `total` (the staged
  // rows are no longer needed), then the whole symmetric matrix out.
  MSVD_THREADGROUP C* total = scratch;
  for (uint32_t s = 0; s < slices; ++s) {
    if (slice == s) {
      MSVD_UNROLL
      for (uint32_t a = 0; a < 4; ++a) {
        MSVD_UNROLL
        for (uint32_t b = 0; b < 4; ++b) {
          MSVD_THREADGROUP C* t = total + (4 * tj + b) * width + 4 * ti + a;
          const C part = acc[a][b] + err[a][b];
          *t = s == 0 ? part : *t + part;
        }
      }
    }
    group_barrier();
  }
  MSVD_DEVICE C* out =
      pair_grams(p, w2, matrix, pair) + static_cast<int64_t>(split) * width * width;
  for (uint32_t idx = tid; idx < width * width; idx += p.threads) {
    const uint32_t c = idx / width;
    const uint32_t r = idx % width;
    out[idx] = r <= c ? total[c * width + r] : total[r * width + c];
  }
}

// Groups: batch x pairs. Scratch: width x (width + 1) for M, then width for the rotations'
// cosines and sines, kSimdWidth for reductions, then width x width for W. W is accumulated in
// threadgroup memory and written to w2 once: each of the width - 1 steps of a sweep would
// otherwise need a device-memory barrier.
template <typename P, typename T, typename C>
MSVD_INLINE void block_jacobi_pair_eigen(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C*,
                                         MSVD_DEVICE C*, MSVD_DEVICE C* w2,
                                         MSVD_DEVICE int32_t* state, MSVD_DEVICE int32_t*,
                                         MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const uint32_t pair = ctx.group % p.pairs;
  const uint32_t matrix = ctx.group / p.pairs;
  const uint32_t width = 2 * p.block;
  const uint32_t tid = ctx.thread_index;
  MSVD_DEVICE C* w_out = pair_rotation(p, w2, matrix, pair);
  if (block_jacobi_converged(p, state, matrix)) {
    // The GEMMs rotate every matrix: a converged one by the identity, which changes nothing.
    if (p.gemm_sweep != 0u)
      for (uint32_t idx = tid; idx < width * width; idx += p.threads)
        w_out[idx] = idx / width == idx % width ? C(1) : C(0);
    return;
  }
  const uint32_t half = p.block;
  const uint32_t ldm = width + 1;
  MSVD_THREADGROUP C* m = scratch;
  MSVD_THREADGROUP C* rot_c = m + width * ldm;
  MSVD_THREADGROUP C* rot_s = rot_c + half;
  MSVD_THREADGROUP C* partials = rot_s + half;
  MSVD_THREADGROUP C* w = partials + kSimdWidth;
  MSVD_DEVICE const C* grams = pair_grams(p, w2, matrix, pair);

  for (uint32_t idx = tid; idx < width * width; idx += p.threads) {
    C x = C(0);
    for (uint32_t s = 0; s < p.gram_splits; ++s) x += grams[s * width * width + idx];
    m[(idx / width) * ldm + idx % width] = x;
    w[idx] = idx / width == idx % width ? C(1) : C(0);
  }
  group_barrier();

  const C tol = block_jacobi_polishing(p, state, matrix)
                    ? C(kPolishTolerance) * NumericLimits<C>::epsilon()
                    : jacobi_tolerance<C>(p.rows);
  const C negligible = negligible_norm_squared<C>();
  // Convergence counts only pairs across the two blocks: a pair within a block is checked in
  // every round the block takes part in (2p - 1 a sweep), so its rounding-level noise would
  // keep whole sweeps "rotating"; each round still rotates it when it exceeds the tolerance.
  C rotated_any = C(0);
  C crossed_any = C(0);
  for (uint32_t sweep = 0; sweep < p.inner_sweeps; ++sweep) {
    C rotated = C(0);
    C crossed = C(0);
    for (uint32_t step = 0; step + 1 < width; ++step) {
      if (tid < half) {
        const ColumnPair cp = round_robin_pair(width, step, tid);
        const C alpha = m[cp.i * ldm + cp.i];
        const C beta = m[cp.j * ldm + cp.j];
        const C gamma = m[cp.j * ldm + cp.i];
        const bool rotate = alpha > negligible && beta > negligible &&
                            math_abs(gamma) > tol * math_sqrt(alpha) * math_sqrt(beta);
        Rotation<C> r;
        r.c = C(1);
        r.s = C(0);
        if (rotate) {
          r = jacobi_rotation(alpha, beta, gamma);
          rotated = C(1);
          if ((cp.i < half) != (cp.j < half)) crossed = C(1);
        }
        rot_c[tid] = r.c;
        rot_s[tid] = r.s;
      }
      group_barrier();
      // M <- M J and W <- W J (columns i, j), then M <- J^T M (rows i, j).
      for (uint32_t idx = tid; idx < half * width; idx += p.threads) {
        const uint32_t t = idx / width;
        const uint32_t r = idx % width;
        const C c = rot_c[t];
        const C s = rot_s[t];
        if (s == C(0)) continue;
        const ColumnPair cp = round_robin_pair(width, step, t);
        const C x = m[cp.i * ldm + r];
        const C y = m[cp.j * ldm + r];
        m[cp.i * ldm + r] = c * x - s * y;
        m[cp.j * ldm + r] = s * x + c * y;
        const C wx = w[cp.i * width + r];
        const C wy = w[cp.j * width + r];
        w[cp.i * width + r] = c * wx - s * wy;
        w[cp.j * width + r] = s * wx + c * wy;
      }
      group_barrier();
      for (uint32_t idx = tid; idx < half * width; idx += p.threads) {
        const uint32_t t = idx / width;
        const uint32_t col = idx % width;
        const C c = rot_c[t];
        const C s = rot_s[t];
        if (s == C(0)) continue;
        const ColumnPair cp = round_robin_pair(width, step, t);
        const C x = m[col * ldm + cp.i];
        const C y = m[col * ldm + cp.j];
        m[col * ldm + cp.i] = c * x - s * y;
        m[col * ldm + cp.j] = s * x + c * y;
      }
      group_barrier();
    }
    rotated = group_reduce_max(rotated, partials, ctx, p.threads);
    rotated_any = math_max(rotated_any, rotated);
    crossed_any = math_max(crossed_any, group_reduce_max(crossed, partials, ctx, p.threads));
    if (rotated == C(0)) break;
  }
  if (rotated_any == C(0)) {
    for (uint32_t idx = tid; idx < width * width; idx += p.threads) w_out[idx] = w[idx];
  } else {
    // W, a product of hundreds of rounded plane rotations, is orthogonal only to tens of ulps,
    // and V accumulates the drift of every W it meets (thousands in a large SVD): that drift,
    // not the rounding of the products, limited the orthogonality of V, the reconstruction and
    // close singular values. One step of the polar iteration, W (I - E/2) with
    // E = W^T W - I, brings W back to a fraction of an ulp; E must be summed in twice the
    // precision, or its own rounding (an ulp or two) is what is left. E goes where M was.
    MSVD_THREADGROUP C* e = m;
    for (uint32_t idx = tid; idx < width * width; idx += p.threads) {
      const uint32_t i = idx / width;
      const uint32_t j = idx % width;
      if (j < i) continue;
      const C dot = compensated_dot(w + i * width, w + j * width, width, i == j ? C(-1) : C(0));
      e[i * ldm + j] = dot;
      e[j * ldm + i] = dot;
    }
    group_barrier();
    for (uint32_t idx = tid; idx < width * width; idx += p.threads) {
      const uint32_t col = idx / width;
      const uint32_t row = idx % width;
      C we = C(0);
      for (uint32_t k = 0; k < width; ++k) we += w[k * width + row] * e[col * ldm + k];
      w_out[idx] = w[idx] - we / C(2);
    }
  }
  if (tid == 0 && crossed_any != C(0)) state[matrix * p.state_stride + kStatePairFlags + pair] = 1;
}

// Groups: batch x pairs x (g_tiles + v_tiles). Each updates row_tile rows of a pair of G (or
// V) by the pair's rotation and writes them to the slots of the next round in the other copy.
// Scratch: width x (width + 1) for W, then width x row_tile for the rows.
template <typename P, typename T, typename C>
MSVD_INLINE void block_jacobi_rotate(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                     MSVD_DEVICE C* w1, MSVD_DEVICE C* w2,
                                     MSVD_DEVICE int32_t* state, MSVD_DEVICE int32_t*,
                                     MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const uint32_t tiles = p.g_tiles + p.v_tiles;
  const uint32_t tile = ctx.group % tiles;
  const uint32_t pair = (ctx.group / tiles) % p.pairs;
  const uint32_t matrix = ctx.group / (tiles * p.pairs);
  if (block_jacobi_converged(p, state, matrix)) return;
  const bool on_g = tile < p.g_tiles;
  const uint32_t rows = on_g ? p.rows : p.padded_cols;
  const uint32_t ld = on_g ? p.ldg : p.ldv;
  const uint32_t row0 = (on_g ? tile : tile - p.g_tiles) * p.row_tile;
  const RoundCopies<C> copies = round_copies(p, w0, w1, on_g, matrix);
  MSVD_DEVICE const C* src = copies.src;
  MSVD_DEVICE C* dst = copies.dst;
  const uint32_t width = 2 * p.block;
  const uint32_t tid = ctx.thread_index;
  MSVD_DEVICE const C* w = pair_rotation(p, w2, matrix, pair);
  // W's columns one element apart more than its height, so that the threads of a SIMD group
  // reading two of them at once hit different banks.
  const uint32_t ldw = width + 1;
  MSVD_THREADGROUP C* ws = scratch;
  MSVD_THREADGROUP C* xs = scratch + width * ldw;
  const uint32_t tile_rows = row0 + p.row_tile <= rows ? p.row_tile : rows - row0;
  for (uint32_t idx = tid; idx < width * width; idx += p.threads)
    ws[idx / width * ldw + idx % width] = w[idx];
  for (uint32_t idx = tid; idx < width * p.row_tile; idx += p.threads) {
    const uint32_t r = idx % p.row_tile;
    const uint32_t c = idx / p.row_tile;
    xs[idx] = r < tile_rows ? src[(pair * width + c) * ld + row0 + r] : C(0);
  }
  group_barrier();
  // Each thread: 4 rows x 4 columns of the product, so every scratch read feeds 4 products.
  // Its rows are row_quads apart: neighbouring threads then read and write neighbouring rows
  // (no bank conflicts in the reads, coalesced stores).
  const uint32_t row_quads = p.row_tile / 4;
  for (uint32_t q = tid; q < row_quads * (width / 4); q += p.threads) {
    const uint32_t r0 = q % row_quads;
    const uint32_t c0 = (q / row_quads) * 4;
    C acc[4][4];
    MSVD_UNROLL
    for (uint32_t a = 0; a < 4; ++a) {
      MSVD_UNROLL
      for (uint32_t b = 0; b < 4; ++b) acc[a][b] = C(0);
    }
    for (uint32_t l = 0; l < width; ++l) {
      C x[4];
      C y[4];
      MSVD_UNROLL
      for (uint32_t a = 0; a < 4; ++a) x[a] = xs[l * p.row_tile + r0 + a * row_quads];
      MSVD_UNROLL
      for (uint32_t b = 0; b < 4; ++b) y[b] = ws[(c0 + b) * ldw + l];
      MSVD_UNROLL
      for (uint32_t a = 0; a < 4; ++a) {
        MSVD_UNROLL
        for (uint32_t b = 0; b < 4; ++b) acc[a][b] += x[a] * y[b];
      }
    }
    MSVD_UNROLL
    for (uint32_t b = 0; b < 4; ++b) {
      const uint32_t c = c0 + b;
      const uint32_t slot = circle_next_slot(2 * pair + c / p.block, p.pairs);
      MSVD_DEVICE C* out = dst + (slot * p.block + c % p.block) * ld + row0;
      MSVD_UNROLL
      for (uint32_t a = 0; a < 4; ++a)
        if (r0 + a * row_quads < tile_rows) out[r0 + a * row_quads] = acc[a][b];
    }
  }
}

// Groups: batch x groups_per_matrix, in a GEMM sweep after the rotation GEMMs wrote the
// rotated pairs to the other copy (src_parity here) in their own slots: every block of G and V
// back to the first copy, in the slot of the next round. Converged matrices move too: the
// GEMMs rotated them by the identity, and their columns must stay in one copy.
template <typename P, typename T, typename C>
MSVD_INLINE void block_jacobi_permute(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                      MSVD_DEVICE C* w1, MSVD_DEVICE C*, MSVD_DEVICE int32_t*,
                                      MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*,
                                      ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  const StridedRange range = group_share(p.groups_per_matrix, p.threads, ctx);
  const uint32_t g_elements = p.rows * p.padded_cols;
  const uint32_t elements = g_elements + p.padded_cols * p.padded_cols;
  for (uint32_t idx = range.first; idx < elements; idx += range.step) {
    const bool on_g = idx < g_elements;
    const uint32_t e = on_g ? idx : idx - g_elements;
    const uint32_t ld = on_g ? p.ldg : p.ldv;
    const uint32_t col = e / ld;
    const uint32_t row = e % ld;
    const RoundCopies<C> copies = round_copies(p, w0, w1, on_g, matrix);
    const uint32_t to = circle_next_slot(col / p.block, p.pairs) * p.block + col % p.block;
    copies.dst[static_cast<int64_t>(to) * ld + row] =
        copies.src[static_cast<int64_t>(col) * ld + row];
  }
}

// Groups: batch, after the last round of a sweep.
template <typename P, typename T, typename C>
MSVD_INLINE void block_jacobi_sweep_end(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C*,
                                        MSVD_DEVICE C*, MSVD_DEVICE C*, MSVD_DEVICE int32_t* state,
                                        MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*,
                                        ThreadContext ctx) {
  if (ctx.thread_index != 0) return;
  MSVD_DEVICE int32_t* s = state + ctx.group * p.state_stride;
  if (s[kStateConverged] != 0) return;
  int32_t rotated = 0;
  for (uint32_t k = 0; k < p.pairs; ++k) {
    rotated |= s[kStatePairFlags + k];
    s[kStatePairFlags + k] = 0;
  }
  // Each round of the kernels moves the columns to the other copy, and a sweep has an odd
  // number of rounds; a GEMM sweep's permutation puts them back where they were.
  if (p.gemm_sweep == 0u) s[kStateCopy] = 1 - s[kStateCopy];
  const int32_t polish = s[kStatePolish];
  if (polish != 0) {  // a polish sweep
    if (rotated == 0 || polish >= static_cast<int32_t>(p.polish_sweeps))
      s[kStateConverged] = 1;
    else
      s[kStatePolish] = polish + 1;
  } else if (rotated == 0) {
    if (p.polish_sweeps == 0u)
      s[kStateConverged] = 1;
    else
      s[kStatePolish] = 1;
  }
}

// The finalize kernels run after the last sweep and leave S, U (io, u_rows x cols) and V (w2)
// in descending order of S. They read the copy of G and V that holds the final columns
// (kStateCopy). Their scratch in w2: FinalizeScratch (padding columns sort last).
// `matrix`'s G (or V) in the copy that holds its final columns.
template <typename C>
MSVD_INLINE MSVD_DEVICE const C* final_copy(MSVD_DEVICE const C* copies, int64_t parity_stride,
                                            int64_t batch_stride,
                                            MSVD_CONSTANT const BlockJacobiParams& p,
                                            MSVD_DEVICE const int32_t* state, uint32_t matrix) {
  const int64_t parity = state[matrix * p.state_stride + kStateCopy];
  return copies + parity * parity_stride + static_cast<int64_t>(matrix) * batch_stride;
}

// The finalize kernels' scratch of `matrix` in w2 (see above).
template <typename C>
struct FinalizeScratch {
  MSVD_DEVICE C* sigma;   // padded_cols sort keys
  MSVD_DEVICE C* g_norm;  // padded_cols
  MSVD_DEVICE C* v_norm;  // padded_cols
  MSVD_DEVICE C* work;    // the sorted order, later Gram-Schmidt temporaries
};
template <typename C>
MSVD_INLINE FinalizeScratch<C> finalize_scratch(MSVD_CONSTANT const BlockJacobiParams& p,
                                                MSVD_DEVICE C* w2, uint32_t matrix) {
  FinalizeScratch<C> f;
  f.sigma = w2 + static_cast<int64_t>(matrix) * p.finalize_batch_stride + p.scratch_offset;
  f.g_norm = f.sigma + p.padded_cols;
  f.v_norm = f.g_norm + p.padded_cols;
  f.work = f.v_norm + p.padded_cols;
  return f;
}

MSVD_INLINE bool not_finite(MSVD_CONSTANT const BlockJacobiParams& p,
                            MSVD_DEVICE const int32_t* state, uint32_t matrix) {
  return state[matrix * p.state_stride + kStateStatus] == kSvdNonFiniteInput;
}

// Groups: batch x groups_per_matrix, one SIMD group per column at a time (coalesced reads).
// Rounded rotations scale G's and V's columns alike: sigma = ||g_j|| / ||v_j|| removes that.
template <typename P, typename T, typename C>
MSVD_INLINE void block_jacobi_norms(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                    MSVD_DEVICE C* w1, MSVD_DEVICE C* w2,
                                    MSVD_DEVICE int32_t* state, MSVD_DEVICE int32_t*,
                                    MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  if (not_finite(p, state, matrix)) return;
  MSVD_DEVICE const C* g = final_copy(w0, p.g_parity_stride, p.g_batch_stride, p, state, matrix);
  MSVD_DEVICE const C* v = final_copy(w1, p.v_parity_stride, p.v_batch_stride, p, state, matrix);
  const FinalizeScratch<C> f = finalize_scratch(p, w2, matrix);
  const uint32_t simd_groups = p.threads / kSimdWidth;
  const uint32_t first = (ctx.group % p.groups_per_matrix) * simd_groups + ctx.simd_group;
  const uint32_t step = p.groups_per_matrix * simd_groups;
  const C negligible = negligible_norm_squared<C>();
  for (uint32_t j = first; j < p.padded_cols; j += step) {
    C g2 = C(0);
    for (uint32_t r = ctx.lane; r < p.rows; r += kSimdWidth)
      g2 += g[j * p.ldg + r] * g[j * p.ldg + r];
    C v2 = C(0);
    C pad2 = C(0);
    for (uint32_t r = ctx.lane; r < p.padded_cols; r += kSimdWidth) {
      const C x = v[j * p.ldv + r];
      if (r < p.cols)
        v2 += x * x;
      else
        pad2 += x * x;
    }
    g2 = simd_reduce_sum(g2);
    v2 = simd_reduce_sum(v2);
    pad2 = simd_reduce_sum(pad2);
    if (ctx.lane == 0) {
      f.g_norm[j] = math_sqrt(g2);
      f.v_norm[j] = math_sqrt(v2);
      f.sigma[j] = pad2 > C(0) ? C(-1) : g2 <= negligible ? C(0) : math_sqrt(g2) / math_sqrt(v2);
    }
  }
}

// Groups: batch x groups_per_matrix, a thread per column: its rank (ties by index) gives
// work[rank] = column and S[rank].
template <typename P, typename T, typename C>
MSVD_INLINE void block_jacobi_sort(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C*,
                                   MSVD_DEVICE C*, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t* state,
                                   MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  if (not_finite(p, state, matrix)) return;
  MSVD_DEVICE C* out = w2 + static_cast<int64_t>(matrix) * p.finalize_batch_stride;
  const FinalizeScratch<C> f = finalize_scratch(p, w2, matrix);
  const uint32_t j = (ctx.group % p.groups_per_matrix) * p.threads + ctx.thread_index;
  if (j >= p.padded_cols) return;
  const C key = f.sigma[j];
  uint32_t rank = 0;
  for (uint32_t l = 0; l < p.padded_cols; ++l) {
    const C other = f.sigma[l];
    if (other > key || (other == key && l < j)) ++rank;
  }
  if (rank < p.cols) {
    f.work[rank] = C(j);
    out[p.s_offset + rank] = key;
  }
}

// Groups: batch x groups_per_matrix: U and V columns in the sorted order, normalised; U of a
// negligible column is zero until block_jacobi_complete.
template <typename P, typename T, typename C>
MSVD_INLINE void block_jacobi_write(MSVD_CONSTANT const P& p, MSVD_DEVICE T* io, MSVD_DEVICE C* w0,
                                    MSVD_DEVICE C* w1, MSVD_DEVICE C* w2,
                                    MSVD_DEVICE int32_t* state, MSVD_DEVICE int32_t*,
                                    MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t matrix = ctx.group / p.groups_per_matrix;
  if (not_finite(p, state, matrix)) return;
  MSVD_DEVICE const C* g = final_copy(w0, p.g_parity_stride, p.g_batch_stride, p, state, matrix);
  MSVD_DEVICE const C* v = final_copy(w1, p.v_parity_stride, p.v_batch_stride, p, state, matrix);
  MSVD_DEVICE C* out = w2 + static_cast<int64_t>(matrix) * p.finalize_batch_stride;
  const FinalizeScratch<C> f = finalize_scratch(p, w2, matrix);
  MSVD_DEVICE T* u = io + static_cast<int64_t>(matrix) * p.u_batch_stride;
  const StridedRange range = group_share(p.groups_per_matrix, p.threads, ctx);
  for (uint32_t idx = range.first; idx < p.u_rows * p.cols; idx += range.step) {
    const uint32_t t = idx / p.u_rows;
    const uint32_t r = idx % p.u_rows;
    const uint32_t j = static_cast<uint32_t>(f.work[t]);
    u[t * p.ldu + r] = r < p.rows && f.sigma[j] > C(0) ? g[j * p.ldg + r] / f.g_norm[j] : C(0);
  }
  for (uint32_t idx = range.first; idx < p.cols * p.cols; idx += range.step) {
    const uint32_t t = idx / p.cols;
    const uint32_t r = idx % p.cols;
    const uint32_t j = static_cast<uint32_t>(f.work[t]);
    out[p.v_offset + t * p.cols + r] = v[j * p.ldv + r] / f.v_norm[j];
  }
}

// One group per matrix: info, and the null columns of U (last in order) completed with unit
// vectors orthogonal to all before them: from the row of least leverage, Gram-Schmidt twice
// (as complete_column in jacobi_small.h does).
template <typename P, typename T, typename C>
MSVD_INLINE void block_jacobi_complete(MSVD_CONSTANT const P& p, MSVD_DEVICE T* io, MSVD_DEVICE C*,
                                       MSVD_DEVICE C*, MSVD_DEVICE C* w2,
                                       MSVD_DEVICE int32_t* state, MSVD_DEVICE int32_t* info,
                                       MSVD_THREADGROUP C* scratch, ThreadContext ctx) {
  const uint32_t matrix = ctx.group;
  const uint32_t tid = ctx.thread_index;
  MSVD_DEVICE const int32_t* s = state + matrix * p.state_stride;
  const int32_t status = s[kStateStatus];
  if (tid == 0)
    info[matrix] = status == kSvdNonFiniteInput                      ? status
                   : s[kStateConverged] != 0 || s[kStatePolish] != 0 ? kSvdConverged
                                                                     : kSvdNotConverged;
  if (status == kSvdNonFiniteInput) return;  // the stores write nan
  MSVD_DEVICE C* out = w2 + static_cast<int64_t>(matrix) * p.finalize_batch_stride;
  MSVD_DEVICE const C* s_out = out + p.s_offset;
  MSVD_DEVICE C* work = finalize_scratch(p, w2, matrix).work;
  MSVD_DEVICE T* u = io + static_cast<int64_t>(matrix) * p.u_batch_stride;
  for (uint32_t t = 0; t < p.cols; ++t) {
    if (s_out[t] > C(0)) continue;
    for (uint32_t r = tid; r < p.rows; r += p.threads) {
      C l = C(0);
      for (uint32_t q = 0; q < t; ++q) l += u[q * p.ldu + r] * u[q * p.ldu + r];
      work[r] = l;
    }
    group_barrier_with_device_memory();
    uint32_t start = 0;
    for (uint32_t r = 1; r < p.rows; ++r)
      if (work[r] < work[start]) start = r;
    group_barrier_with_device_memory();
    MSVD_DEVICE T* target = u + t * p.ldu;
    for (uint32_t r = tid; r < p.rows; r += p.threads) target[r] = r == start ? C(1) : C(0);
    group_barrier_with_device_memory();
    for (uint32_t pass = 0; pass < 2; ++pass) {
      for (uint32_t q = tid; q < t; q += p.threads) {
        C dot = C(0);
        for (uint32_t r = 0; r < p.rows; ++r) dot += u[q * p.ldu + r] * target[r];
        work[q] = dot;
      }
      group_barrier_with_device_memory();
      C norm2 = C(0);
      for (uint32_t r = tid; r < p.rows; r += p.threads) {
        C x = target[r];
        for (uint32_t q = 0; q < t; ++q) x -= work[q] * u[q * p.ldu + r];
        target[r] = x;
        norm2 += x * x;
      }
      norm2 = group_reduce_sum(norm2, scratch, ctx, p.threads);
      const C inverse = C(1) / math_sqrt(norm2);
      for (uint32_t r = tid; r < p.rows; r += p.threads) target[r] *= inverse;
      group_barrier_with_device_memory();
    }
  }
}

}  // namespace kernels
}  // namespace metalsvd
