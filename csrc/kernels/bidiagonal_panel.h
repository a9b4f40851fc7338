// A whole panel of the one-stage bidiagonalisation (bidiagonal_reduction.h) in one launch:
// bidiagonal_panel_start, then each column's bidiagonal_column and bidiagonal_row, as phases
// that meet at grid barriers where the plain kernels meet at launch boundaries. A launch costs
// a few microseconds of latency, two a column, where the barrier is one trip through L2; the
// phases are the same bodies, adding the same sums in the same order, so the results are those
// of the launches bit for bit.
//
// Every group of the launch is resident at once (KernelLaunch::grid_barriers), and a group takes
// part in a phase or only meets its barrier: the launch has as many groups as the panel's
// largest phase. A phase's early loads (p.early_loads) go before its barrier as they go before
// wait_for_previous_kernel() in a launch, and are safe for the same reasons (the top of
// bidiagonal_reduction.h): the phase before writes no A but column i of it.
//
// CUDA and the emulator only: Metal promises no residency of a dispatch's threadgroups, so it
// has no grid barrier (dialect.h) and runs the panel as launches.
#pragma once

#include "bidiagonal_reduction.h"

namespace metalsvd {
namespace kernels {

struct GridBarrier {
  MSVD_INLINE void operator()() const { grid_barrier(); }
};

// The groups of the panel's phases, as the host launches them one at a time: the panel start's
// rows, then every column and row step's (brd_column_shape, brd_row_shape).
struct BrdPanelPhases {
  uint32_t start_groups;  // per matrix, of p.threads rows each
  uint32_t most_groups;   // per matrix, in the largest phase
};
MSVD_HOST_DEVICE BrdPanelPhases brd_panel_phases(uint32_t rows, uint32_t cols, uint32_t width,
                                                 uint32_t batch, uint32_t threads,
                                                 uint32_t target_groups) {
  BrdPanelPhases phases;
  phases.start_groups = brd_groups(rows, threads);
  phases.most_groups = phases.start_groups;
  for (uint32_t i = 0; i < width && i < cols; ++i) {
    const uint32_t column = brd_column_shape(cols - i - 1, batch, target_groups).groups_per_matrix;
    const uint32_t row = brd_row_shape(rows - i - 1, batch, target_groups).groups_per_matrix;
    phases.most_groups = column > phases.most_groups ? column : phases.most_groups;
    if (i + 1 < cols) phases.most_groups = row > phases.most_groups ? row : phases.most_groups;
  }
  return phases;
}

// Makes `phase` the next step's, of groups `shape`, after a phase of phase.groups_per_matrix
// groups (whose records it reduces); whether group ctx.group takes part in it.
template <typename P>
MSVD_INLINE bool brd_next_phase(P& phase, BrdStepShape shape, ThreadContext ctx) {
  phase.partial_groups = phase.groups_per_matrix;
  phase.extent = shape.extent;
  phase.groups_per_matrix = shape.groups_per_matrix;
  return ctx.group < phase.batch * phase.groups_per_matrix;
}

// Panel p.panel of p.width columns. Groups: batch x brd_panel_phases(..).most_groups, p.threads
// each; p.target_groups as the host's launches ask of theirs (the other fields of the phases
// are set here).
template <typename P, typename T, typename C>
MSVD_INLINE void bidiagonal_panel(MSVD_CONSTANT const P& p, MSVD_DEVICE T*, MSVD_DEVICE C* w0,
                                  MSVD_DEVICE C* w1, MSVD_DEVICE C* w2, MSVD_DEVICE int32_t*,
                                  MSVD_DEVICE int32_t*, MSVD_THREADGROUP C* scratch,
                                  ThreadContext ctx) {
  const uint32_t rows = p.rows - p.panel;
  const uint32_t cols = p.cols - p.panel;
  P phase = p;
  phase.step = 0;
  phase.early_loads = 1;
  phase.groups_per_matrix = brd_groups(rows, p.threads);
  if (ctx.group < p.batch * phase.groups_per_matrix)
    brd_panel_start(phase, w0, scratch, ctx, WaitForPreviousKernel());
  else
    wait_for_previous_kernel();
  const GridBarrier barrier;
  for (uint32_t i = 0; i < p.width; ++i) {
    phase.step = i;
    if (brd_next_phase(phase, brd_column_shape(cols - i - 1, p.batch, p.target_groups), ctx))
      brd_column(phase, w0, w1, scratch, ctx, barrier);
    else
      barrier();
    if (i + 1 >= cols) break;
    if (brd_next_phase(phase, brd_row_shape(rows - i - 1, p.batch, p.target_groups), ctx))
      brd_row(phase, w0, w2, scratch, ctx, barrier);
    else
      barrier();
  }
}

}  // namespace kernels
}  // namespace metalsvd
