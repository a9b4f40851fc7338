#include "core/bidiagonal_svd.h"

#include <algorithm>
#include <string>

#include "core/bidiagonal_values.h"
#include "core/column_major.h"
#include "core/errors.h"
#include "core/workspace_kernels.h"
#include "kernels/bidiagonal_reduction.h"
#include "kernels/dc_apply.h"

namespace metalsvd {

uint32_t bidiagonal_svd_threadgroup_bytes(ScalarType dtype) {
  const uint32_t c = element_size(dtype);
  const uint32_t apply = 2 * kernels::kDcApplyTile * kernels::kDcApplyTileLd * c;
  const uint32_t reduction = kernels::brd_scratch_elements(kernels::kBrdMaxThreads) * c;
  return std::max(apply, reduction);  // the tail is taken only where it fits
}

BidiagonalSvdPlan plan_bidiagonal_svd(const DeviceLimits& limits, ScalarType dtype,
                                      const BidiagonalSvdTuning& tuning) {
  const uint32_t needed = bidiagonal_svd_threadgroup_bytes(dtype);
  if (needed > limits.threadgroup_memory_bytes)
    throw NotImplemented("metalsvd.svd: algorithm='dc' needs " + std::to_string(needed) +
                         " bytes of threadgroup memory, the device has " +
                         std::to_string(limits.threadgroup_memory_bytes));
  const uint32_t t = tuning.reduction_threads;
  if (t != 0 && t != 256 && t != 512 && t != 1024)
    throw InvalidArgument("metalsvd: the bidiagonalisation's threads must be 256, 512 or 1024");
  BidiagonalSvdPlan plan;
  if (tuning.gemm_rows != 0) plan.gemm_rows = tuning.gemm_rows;
  plan.reduction.threads = t;
  plan.reduction.groups = tuning.reduction_groups;
  if (tuning.reduction_tail < -1 || tuning.reduction_tail > kMaxBidiagonalTail)
    throw InvalidArgument("metalsvd: the bidiagonalisation's tail must be in [0, " +
                          std::to_string(kMaxBidiagonalTail) + "] (-1: the plan's)");
  plan.reduction.tail = tuning.reduction_tail;
  if (tuning.reduction_resident < -1 || tuning.reduction_resident > 1)
    throw InvalidArgument("metalsvd: reduction_resident must be 0, 1 or -1 (the plan's)");
  plan.reduction.resident = tuning.reduction_resident;
  if (tuning.two_stage < -1 || tuning.two_stage > 1)
    throw InvalidArgument("metalsvd: two_stage must be 0, 1 or -1 (the plan's)");
  plan.two_stage = tuning.two_stage;
  plan.tile_rows = tuning.tile_rows;
  return plan;
}

bool two_stage_reduction(const BidiagonalSvdPlan& plan, bool vectors, ScalarType dtype,
                         uint32_t cols) {
  if (plan.two_stage != -1) return plan.two_stage == 1;
  return dtype == ScalarType::f32 && cols >= (vectors ? kTwoStageVectorsCols : kTwoStageValuesCols);
}

BidiagonalSvdWorkspace bidiagonal_svd_workspace(WorkspaceLayout& layout, const DeviceLimits& limits,
                                                const BidiagonalSvdPlan& plan, ScalarType dtype,
                                                uint32_t batch, uint32_t rows, uint32_t cols) {
  BidiagonalSvdWorkspace ws;
  ws.two_stage = two_stage_reduction(plan, true, dtype, cols);
  if (ws.two_stage) {
    ws.band = band_reduction_workspace(layout, limits, dtype, batch, rows, cols, cols, cols,
                                       plan.tile_rows);
    ws.bidiagonal = band_bidiagonal_workspace(layout, dtype, batch, cols, ws.band.band, true);
  } else {
    ws.reduction = bidiagonal_reduction_workspace(layout, dtype, batch, rows, cols, cols, cols);
  }
  ws.dc = dc_workspace(layout, dtype, batch, cols);
  ws.u = take_matrix(layout, dtype, batch, rows, cols);
  ws.v = take_matrix(layout, dtype, batch, cols, cols);
  return ws;
}

MatrixBatch bidiagonal_svd_input(const BidiagonalSvdWorkspace& ws) {
  return ws.two_stage ? ws.band.a : bidiagonal_input(ws.reduction);
}

BidiagonalSvdResult enqueue_bidiagonal_svd(Backend& backend, const BidiagonalSvdPlan& plan,
                                           const BidiagonalSvdWorkspace& ws, Buffer state,
                                           uint32_t state_stride) {
  const ScalarType dtype = ws.v.dtype;
  const uint32_t batch = ws.v.batch;
  const uint32_t n = ws.v.cols;
  BidiagonalDiagonals de;
  if (ws.two_stage) {
    enqueue_band_reduction(backend, ws.band);
    enqueue_band_bidiagonal(backend, ws.bidiagonal, ws.band.a);
    de = band_bidiagonal_diagonals(ws.bidiagonal);
  } else {
    enqueue_bidiagonal_reduction(backend, ws.reduction, plan.reduction);
    de = bidiagonal_diagonals(ws.reduction);
  }
  DcInput input;
  input.d = de.data;
  input.batch_stride = de.batch_stride;
  input.e_offset = de.e_offset;
  const DcResult b = enqueue_bidiagonal_dc(backend, ws.dc, dtype, batch, n, input, state,
                                           state_stride, plan.gemm_rows);
  // U = Q [U_B; 0] and V = P W_B, where for two stages Q = Q1 Q2 and P = P1 P2 (band
  // reduction, then bulge chasing).
  if (ws.two_stage) {
    // out <- Q2 x or P2 x. The back-transformation reads and writes a row of a SIMD group's
    // columns at a time, one access where they are stored by rows: x goes through it
    // transposed, in out's top, and back through its own storage, which is spent after.
    const auto back_transform = [&](BandSide side, const MatrixBatch& x, const MatrixBatch& out) {
      const MatrixBatch x_transposed = sub_block(out, 0, 0, n, n);
      enqueue_load(backend, transposed(x), x_transposed, {}, 0, 0);
      enqueue_band_back_transform(backend, ws.bidiagonal, side, transposed(x_transposed));
      enqueue_load(backend, transposed(x_transposed), x, {}, 0, 0);
      enqueue_load(backend, x, out, {}, 0, 0);
    };
    back_transform(BandSide::left, b.u, ws.u);
    enqueue_apply_band_q(backend, ws.band, ws.u);
    back_transform(BandSide::right, b.w, ws.v);
    enqueue_apply_band_p(backend, ws.band, ws.v);
  } else {
    enqueue_load(backend, b.u, ws.u, {}, 0, 0);
    enqueue_load(backend, b.w, ws.v, {}, 0, 0);
    enqueue_apply_bidiagonal_q(backend, ws.reduction, ws.u);
    enqueue_apply_bidiagonal_p(backend, ws.reduction, ws.v);
  }
  return {ws.u, b.sigma, ws.v};
}

BidiagonalValuesWorkspace bidiagonal_values_workspace(WorkspaceLayout& layout,
                                                      const DeviceLimits& limits,
                                                      const BidiagonalSvdPlan& plan,
                                                      ScalarType dtype, uint32_t batch,
                                                      uint32_t rows, uint32_t cols) {
  BidiagonalValuesWorkspace ws;
  ws.two_stage = two_stage_reduction(plan, false, dtype, cols);
  if (ws.two_stage) {
    ws.band =
        band_reduction_workspace(layout, limits, dtype, batch, rows, cols, 0, 0, plan.tile_rows);
    ws.bidiagonal = band_bidiagonal_workspace(layout, dtype, batch, cols, ws.band.band);
  } else {
    ws.reduction = bidiagonal_reduction_workspace(layout, dtype, batch, rows, cols, 0, 0);
    ws.reduction.form_triangles = false;
  }
  ws.sigma = take_matrix(layout, dtype, batch, 1, cols);
  return ws;
}

MatrixBatch bidiagonal_values_input(const BidiagonalValuesWorkspace& ws) {
  return ws.two_stage ? ws.band.a : bidiagonal_input(ws.reduction);
}

MatrixBatch enqueue_bidiagonal_svd_values(Backend& backend, const BidiagonalSvdPlan& plan,
                                          const BidiagonalValuesWorkspace& ws) {
  const ScalarType dtype = ws.sigma.dtype;
  const uint32_t batch = ws.sigma.batch;
  const uint32_t cols = ws.sigma.cols;
  if (ws.two_stage) {
    enqueue_band_reduction(backend, ws.band);
    enqueue_band_bidiagonal(backend, ws.bidiagonal, ws.band.a);
    enqueue_bidiagonal_values(backend, dtype, batch, cols, band_bidiagonal_diagonals(ws.bidiagonal),
                              ws.sigma);
  } else {
    enqueue_bidiagonal_reduction(backend, ws.reduction, plan.reduction);
    enqueue_bidiagonal_values(backend, dtype, batch, cols, bidiagonal_diagonals(ws.reduction),
                              ws.sigma);
  }
  return ws.sigma;
}

}  // namespace metalsvd
