// The bulge chasing's reflectors (band_bidiagonal.h) applied to the columns of X: X <- Q2 X with
// the left ones, X <- P2 X with the right ones, Q2 and P2 being their products in the order the
// chase applied them, so that the band matrix is Q2 B P2^T with B bidiagonal.
//
// The product is applied last reflector first. The reflectors of the `band` sweeps of group g
// (sweeps g band .. g band + band - 1) at task k act on rows of one window, [g band + 1 +
// k band, + 2 band - 1); applying group after group from the last, and within a group task
// after task from the first, each block's reflectors from the last sweep to the first, keeps
// the order of every two reflectors whose rows overlap. Block (g, k) then depends only on
// blocks of step (G - g) + k - 1 or earlier (G: the last group), and the blocks of one step lie
// two windows apart: a launch a step, every block and every slice of X's columns a group.
// A group loads its window of X into threadgroup memory, a thread a column applies the block's
// reflectors to it (no barrier between them: a column is one thread's), and stores it back.
// The thread holds its column in registers and each reflector's vector while it applies it, so
// that a multiply-add reads nothing: read from threadgroup memory in the dot and again in the
// update, with the column stored back each time, the reflectors' 2 band^2 multiply-adds a column
// were 3.5 threadgroup accesses each.
#pragma once

#include "band_bidiagonal.h"
#include "dialect.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

struct BandBackTransformParams {
  int64_t x_batch_stride;          // w0: X, n x cols, column-major, leading dimension ld
  int64_t reflector_batch_stride;  // w1: one side's reflectors, slot s max_tasks + k
  uint32_t batch;
  uint32_t n;
  uint32_t cols;
  uint32_t ld;
  uint32_t band;
  uint32_t threads;  // a column a thread: the columns of a slice
  uint32_t max_tasks;
  uint32_t step;         // blocks (g, k) with (last_group - g) + k == step
  uint32_t last_group;   // G
  uint32_t first_group;  // the lowest g with a block at this step
  uint32_t blocks;       // blocks at this step
  uint32_t slices;       // slices of X's columns, threads columns each
};

// A thread's column of the window: 2 kBandMax - 1 rows at most, in registers.
MSVD_CONSTANT constexpr uint32_t kBackTransformRows = 2 * kBandMax - 1;
// A reflector as staged for the block: its vector padded with zeros to kBandMax, then tau.
MSVD_CONSTANT constexpr uint32_t kBackTransformSlot = kBandMax + 1;

// Threadgroup memory: the window (2 band - 1 rows, a row threads + 1 elements apart, an odd
// stride whichever of rows or columns consecutive threads walk), then the block's reflectors.
MSVD_HOST_DEVICE uint32_t band_back_transform_scratch(uint32_t band, uint32_t threads) {
  return (2 * band - 1) * (threads + 1) + band * kBackTransformSlot;
}

// Groups: batch x blocks x slices. Scratch: band_back_transform_scratch.
template <typename P, typename T, typename C>
MSVD_INLINE void band_back_transform(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                     MSVD_DEVICE C* w1, MSVD_DEVICE C*, MSVD_DEVICE int32_t*,
                                     MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                     ThreadContext ctx) {
  const uint32_t slice = ctx.group % p.slices;
  const uint32_t block = ctx.group / p.slices % p.blocks;
  const uint32_t matrix = ctx.group / p.slices / p.blocks;
  const uint32_t b = p.band;
  const uint32_t g = p.first_group + block;
  const uint32_t k = p.step - (p.last_group - g);
  const uint32_t first_row = g * b + 1 + k * b;  // the window's
  const uint32_t sweeps = band_sweeps(p.n);
  const uint32_t rows =
      first_row < p.n ? (p.n - first_row < 2 * b - 1 ? p.n - first_row : 2 * b - 1) : 0u;
  const uint32_t col0 = slice * p.threads;
  const uint32_t cols = p.cols - col0 < p.threads ? p.cols - col0 : p.threads;
  const uint32_t stride = p.threads + 1;
  const uint32_t size = band_reflector_size(b);
  MSVD_THREADGROUP C* window = scratch;
  MSVD_THREADGROUP C* reflectors = scratch + (2 * b - 1) * stride;
  MSVD_DEVICE C* x = w0 + static_cast<int64_t>(matrix) * p.x_batch_stride +
                     static_cast<int64_t>(col0) * p.ld + first_row;
  MSVD_DEVICE const C* slots = w1 + static_cast<int64_t>(matrix) * p.reflector_batch_stride;
  for (uint32_t idx = ctx.thread_index; idx < rows * cols; idx += p.threads) {
    const uint32_t r = idx % rows;
    const uint32_t c = idx / rows;
    window[r * stride + c] = x[r + static_cast<int64_t>(c) * p.ld];
  }
  // The block's reflectors, sweep j of the group in slot j; tau 0 for a sweep without task k.
  for (uint32_t idx = ctx.thread_index; idx < b * kBackTransformSlot; idx += p.threads) {
    const uint32_t j = idx / kBackTransformSlot;
    const uint32_t i = idx % kBackTransformSlot;
    const uint32_t s = g * b + j;
    const bool exists = s < sweeps && k < band_sweep_tasks(p.n, b, s);
    const uint32_t from = i == kBandMax ? b : i;  // tau, or element i of the vector
    reflectors[idx] = exists && (i < b || i == kBandMax)
                          ? slots[(static_cast<int64_t>(s) * p.max_tasks + k) * size + from]
                          : C(0);
  }
  group_barrier();
  // The loops run over kBandMax so that every register is named by a constant. The column is
  // zero past the window's rows and a vector zero past its length (the slots hold it so) and
  // past the band (the staging pads it), so the products past either add nothing: no guards.
  const uint32_t c = ctx.thread_index;
  if (c < cols) {
    C column[kBackTransformRows];
    MSVD_UNROLL
    for (uint32_t r = 0; r < kBackTransformRows; ++r)
      column[r] = r < rows ? window[r * stride + c] : C(0);
    MSVD_UNROLL
    for (uint32_t q = 0; q < kBandMax; ++q) {
      const uint32_t j = kBandMax - 1 - q;  // the group's last sweep first
      if (j >= b) continue;                 // uniform over the group, as the next test
      MSVD_THREADGROUP const C* slot = reflectors + j * kBackTransformSlot;
      const C tau = slot[kBandMax];
      if (tau == C(0)) continue;
      // Rows [j, j + kBandMax) of the window.
      C v[kBandMax];
      C dot = C(0);
      MSVD_UNROLL
      for (uint32_t i = 0; i < kBandMax; ++i) {
        v[i] = slot[i];
        dot = math_fma(v[i], column[j + i], dot);
      }
      dot *= tau;
      MSVD_UNROLL
      for (uint32_t i = 0; i < kBandMax; ++i) column[j + i] = math_fma(-dot, v[i], column[j + i]);
    }
    MSVD_UNROLL
    for (uint32_t r = 0; r < kBackTransformRows; ++r)
      if (r < rows) window[r * stride + c] = column[r];
  }
  group_barrier();
  for (uint32_t idx = ctx.thread_index; idx < rows * cols; idx += p.threads) {
    const uint32_t r = idx % rows;
    const uint32_t col = idx / rows;
    x[r + static_cast<int64_t>(col) * p.ld] = window[r * stride + col];
  }
}

}  // namespace kernels
}  // namespace metalsvd
