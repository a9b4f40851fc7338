// The bulge chasing's reflectors (band_bidiagonal.h) applied to the columns of X: X <- Q2 X with
// the left ones, X <- P2 X with the right ones, Q2 and P2 being their products in the order the
// chase applied them, so that the band matrix is Q2 B P2^T with B bidiagonal.
//
// The product is applied last reflector first. The reflectors of the `band` sweeps of group g
// (sweeps g band .. g band + band - 1) at task k act on rows of one window, [g band + 1 +
// k band, + 2 band - 1); applying group after group from the last, and within a group task
// after task from the first, each block's reflectors from the last sweep to the first, keeps
// the order of every two reflectors whose rows overlap. Block (g, k)'s window starts at row
// (g + k) band + 1, so two blocks overlap where g + k differs by one at most; at time (G - g) + k
// (G: the last group) every block comes after those it must follow, and the blocks of one time
// lie two windows apart.
//
// Columns of X never mix, so one group takes a slice of them through every block, with no
// launch between blocks: its SIMD groups are stages, stage i taking group g = top - 1 - i of
// the `stages` groups [top - stages, top) at time i + k, a barrier between times; the groups
// of the next chunk start once the chunk is through. At one time a chunk's blocks lie within
// 2 stages windows of the slice (2048 rows for 16 stages and a band of 32), which its next
// times revisit while they are in the cache, where a launch a time (every group's block at
// once) read and wrote the whole of X each time.
//
// A lane of a SIMD group holds one column of its window in registers and applies the block's
// reflectors to it, so that a multiply-add reads nothing; the reflectors are read from device
// memory as they are applied, every lane at the same address, an access for the SIMD group,
// their cache lines asked for a block ahead (band_prefetch_block). X
// is read and written a row of the window at a time, the SIMD group's columns at once: with X
// stored by rows (x_col_stride 1) a row is consecutive elements, the caller's to arrange.
#pragma once

#include "band_bidiagonal.h"
#include "dialect.h"
#include "workspace_kernel.h"

namespace metalsvd {
namespace kernels {

struct BandBackTransformParams {
  int64_t x_batch_stride;  // w0: X, n x cols, (r, c) at r x_row_stride + c x_col_stride
  int64_t x_row_stride;
  int64_t x_col_stride;
  int64_t reflector_batch_stride;  // w1: one side's reflectors (band_reflector_slot)
  uint32_t batch;
  uint32_t n;
  uint32_t cols;
  uint32_t band;
  uint32_t threads;     // kBackTransformColumns a stage
  uint32_t last_group;  // G
  uint32_t slices;      // slices of X's columns, kBackTransformColumns each
};

// A slice's columns: a SIMD group's lanes.
MSVD_CONSTANT constexpr uint32_t kBackTransformColumns = kSimdWidth;
// A lane's column of a window: 2 kBandMax - 1 rows at most, in registers.
MSVD_CONSTANT constexpr uint32_t kBackTransformRows = 2 * kBandMax - 1;

// The times (barrier to barrier) of the chunk of groups [top - chunk, top): its lowest group has
// the most tasks, and its last stage starts chunk - 1 times after the first.
MSVD_HOST_DEVICE uint32_t band_chunk_times(uint32_t n, uint32_t band, uint32_t top,
                                           uint32_t chunk) {
  return chunk - 1 + band_sweep_tasks(n, band, (top - chunk) * band);
}
// Groups of `band` consecutive sweeps (the last may have fewer), a stage's unit of work.
MSVD_HOST_DEVICE uint32_t band_sweep_groups(uint32_t n, uint32_t band) {
  const uint32_t sweeps = band_sweeps(n);
  return sweeps == 0 ? 0u : (sweeps - 1) / band + 1;
}
// A group's times with `stages` stages: its chunks', from the last group of sweeps, as the
// kernel walks them.
MSVD_HOST_DEVICE uint32_t band_back_transform_times(uint32_t n, uint32_t band, uint32_t stages) {
  uint32_t times = 0;
  for (uint32_t top = band_sweep_groups(n, band); top > 0;) {
    const uint32_t chunk = top < stages ? top : stages;
    times += band_chunk_times(n, band, top, chunk);
    top -= chunk;
  }
  return times;
}

// Block (g, k)'s reflectors: sweeps g band + j, j < the count returned, those of the group that
// have a task k (a sweep s has one while s + k band <= n - 2). Their slots are consecutive
// (band_reflector_slot), from sweep g band's.
MSVD_INLINE uint32_t band_block_reflectors(MSVD_CONSTANT const BandBackTransformParams& p,
                                           uint32_t g, uint32_t k) {
  const uint32_t sweeps_left = band_sweeps(p.n) - g * p.band;
  const uint32_t tasks_left = p.n - 1 - (g + k) * p.band;
  const uint32_t left = sweeps_left < tasks_left ? sweeps_left : tasks_left;
  return p.band < left ? p.band : left;
}

// Bytes a prefetch brings: the cache line of NVIDIA GPUs (a hint's granularity, nothing more).
MSVD_CONSTANT constexpr uint32_t kPrefetchLine = 128;

// Asks for block (g, k)'s reflectors, the lanes of a SIMD group each a line at a time: a
// reflector's vector is read as it is applied, so one not yet in the cache stalls the SIMD
// group for a whole trip to memory, reflector after reflector.
template <typename C>
MSVD_INLINE void band_prefetch_block(MSVD_CONSTANT const BandBackTransformParams& p,
                                     MSVD_DEVICE const C* slots, uint32_t g, uint32_t k,
                                     uint32_t lane) {
  MSVD_DEVICE const C* first = slots + band_reflector_slot(p.n, p.band, g * p.band, k) *
                                           static_cast<int64_t>(kBandReflectorSize);
  const uint32_t values = band_block_reflectors(p, g, k) * kBandReflectorSize;
  const uint32_t line_values = kPrefetchLine / static_cast<uint32_t>(sizeof(C));
  // Every line the values touch, the last through their last value, the first line being
  // anywhere the slots' alignment leaves it.
  for (uint32_t i = lane * line_values; i < values + line_values; i += kSimdWidth * line_values)
    prefetch(first + (i < values ? i : values - 1));
}

// Applies block (g, k)'s reflectors to a lane's column of X (x: its row 0).
//
// Written for the registers: the column (2 band - 1 values) and a reflector's vector (band)
// take most of the 128 a thread has where 16 SIMD groups share a multiprocessor. So the
// reflectors' slots are walked from the last and the stores address the rows from the
// window's end: written plainly (sweep g band + j's slot, the loads' row addresses) a compiler
// kept 32 and 63 addresses alive through the block, and spilled.
template <typename C>
MSVD_INLINE void band_back_transform_block(MSVD_CONSTANT const BandBackTransformParams& p,
                                           MSVD_DEVICE C* x, MSVD_DEVICE const C* slots, uint32_t g,
                                           uint32_t k, uint32_t lane) {
  const uint32_t b = p.band;
  const uint32_t first_row = g * b + 1 + k * b;
  const uint32_t rows = p.n - first_row < 2 * b - 1 ? p.n - first_row : 2 * b - 1;
  const int64_t row_stride = p.x_row_stride;
  // This stage's next block comes to the cache while this one is applied (and the first block,
  // with nothing before it to hide behind, asks for its own).
  if (k == 0) band_prefetch_block(p, slots, g, k, lane);
  if (k + 1 < band_sweep_tasks(p.n, b, g * b)) band_prefetch_block(p, slots, g, k + 1, lane);
  const uint32_t count = band_block_reflectors(p, g, k);
  MSVD_DEVICE const C* slot =
      slots + band_reflector_slot(p.n, b, g * b + count - 1, k) * kBandReflectorSize;
  MSVD_DEVICE C* window = x + static_cast<int64_t>(first_row) * row_stride;
  // The loops run over kBandMax so that every register is named by a constant. The column is
  // zero past the window's rows and a vector zero past its length and past the band (the slots
  // hold it so), so the products past either add nothing: no guards.
  C column[kBackTransformRows];
  MSVD_UNROLL
  for (uint32_t r = 0; r < kBackTransformRows; ++r)
    column[r] = r < rows ? window[static_cast<int64_t>(r) * row_stride] : C(0);
  MSVD_UNROLL
  for (uint32_t q = 0; q < kBandMax; ++q) {
    const uint32_t j = kBandMax - 1 - q;  // the group's last sweep first
    if (j >= count) continue;             // uniform over the SIMD group
    MSVD_DEVICE const C* reflector = slot;
    slot -= kBandReflectorSize;  // the sweep before's, at the same task
    // Rows [j, j + kBandMax) of the window; the vector a quad at a time (a value at a time, a
    // reflector is 33 accesses for its 64 multiply-adds a lane), and two sums, so that the dot
    // is two chains of dependent multiply-adds half as long. Tau comes in the quad after the
    // vector, with no test of it: a test (skipping a reflector of tau 0, which changes
    // nothing) made the vector's loads wait for tau's, two trips to memory a reflector.
    const C tau = load_quad(reflector + kBandReflectorTau).x[0];
    C v[kBandMax];
    C sums[2] = {C(0), C(0)};
    MSVD_UNROLL
    for (uint32_t i = 0; i < kBandMax; i += 4) {
      const Quad<C> quad = load_quad(reflector + i);
      MSVD_UNROLL
      for (uint32_t l = 0; l < 4; ++l) {
        v[i + l] = quad.x[l];
        sums[l % 2] = math_fma(v[i + l], column[j + i + l], sums[l % 2]);
      }
    }
    const C dot = (sums[0] + sums[1]) * tau;
    MSVD_UNROLL
    for (uint32_t i = 0; i < kBandMax; ++i) column[j + i] = math_fma(-dot, v[i], column[j + i]);
  }
  MSVD_DEVICE C* window_end = window + static_cast<int64_t>(rows) * row_stride;
  MSVD_UNROLL
  for (uint32_t r = 0; r < kBackTransformRows; ++r)
    if (r < rows) window_end[-static_cast<int64_t>(rows - r) * row_stride] = column[r];
}

// Groups: batch x slices. No threadgroup memory.
template <typename P, typename T, typename C>
MSVD_INLINE void band_back_transform(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                     MSVD_DEVICE C* w1, MSVD_DEVICE C*, MSVD_DEVICE int32_t*,
                                     MSVD_DEVICE int32_t*, MSVD_THREADGROUP C*, ThreadContext ctx) {
  const uint32_t slice = ctx.group % p.slices;
  const uint32_t matrix = ctx.group / p.slices;
  const uint32_t b = p.band;
  const uint32_t stages = p.threads / kBackTransformColumns;
  const uint32_t stage = ctx.thread_index / kBackTransformColumns;
  const uint32_t col = slice * kBackTransformColumns + ctx.thread_index % kBackTransformColumns;
  MSVD_DEVICE C* x = w0 + static_cast<int64_t>(matrix) * p.x_batch_stride +
                     (col < p.cols ? static_cast<int64_t>(col) * p.x_col_stride : 0);
  MSVD_DEVICE const C* slots = w1 + static_cast<int64_t>(matrix) * p.reflector_batch_stride;
  // Chunks of groups [top - chunk, top) from the last; every thread runs every time, as the
  // barriers need.
  for (uint32_t top = p.last_group + 1; top > 0;) {
    const uint32_t chunk = top < stages ? top : stages;
    const uint32_t times = band_chunk_times(p.n, b, top, chunk);
    // This stage's group and its tasks (none for a stage past the chunk or a column past X).
    const uint32_t g = top - 1 - stage;
    const uint32_t tasks = stage < chunk && col < p.cols ? band_sweep_tasks(p.n, b, g * b) : 0u;
    for (uint32_t time = 0; time < times; ++time) {
      if (time >= stage && time - stage < tasks)
        band_back_transform_block(p, x, slots, g, time - stage, ctx.lane);
      // The next time's blocks read rows this one's wrote, in other SIMD groups.
      group_barrier_with_device_memory();
    }
    top -= chunk;
  }
}

}  // namespace kernels
}  // namespace metalsvd
