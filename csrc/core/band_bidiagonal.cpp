#include "core/band_bidiagonal.h"

#include <algorithm>
#include <cstdint>

#include "core/errors.h"
#include "core/workspace_kernels.h"
#include "kernels/band_back_transform.h"
#include "kernels/band_bidiagonal.h"

namespace metalsvd {
namespace {

// Reflector slots a matrix: one a task of each sweep where they are kept, else one a sweep
// (each task overwriting its sweep's last).
int64_t reflector_slots(uint32_t n, uint32_t band, bool keep) {
  const int64_t sweeps = kernels::band_sweeps(n);
  return keep ? kernels::band_reflector_slots(n, band) : sweeps;
}

constexpr uint32_t kSimd = kernels::kSimdWidth;
// Threads a group of the kernels that take an element a thread.
constexpr uint32_t kElementThreads = 256;
// The back-transformation's most threads: 16 stages, each a SIMD group holding a window's
// columns (kernels/band_back_transform.h); more stages wait longer for the pipeline to fill,
// and band_back_transform_stages takes fewer where the device says they finish sooner.
constexpr uint32_t kBackTransformThreads = 16 * kSimd;

}  // namespace

BandBidiagonal band_bidiagonal_workspace(WorkspaceLayout& layout, ScalarType dtype, uint32_t batch,
                                         uint32_t n, uint32_t band, bool keep_reflectors) {
  if (band == 0 || band > kernels::kBandMax || n == 0)
    throw Error("metalsvd: a band of 1 to 32 superdiagonals is reduced to bidiagonal form");
  BandBidiagonal w;
  w.dtype = dtype;
  w.batch = batch;
  w.n = n;
  w.band = band;
  w.keep_reflectors = keep_reflectors;
  // A matrix's part of the workspace is a multiple of kBandReflectorAlignment elements long,
  // as its reflectors' offset and their slots are.
  const int64_t side = reflector_slots(n, band, keep_reflectors) * kernels::kBandReflectorSize;
  w.left_offset = kernels::band_reflectors_offset(n, band);
  w.right_offset = keep_reflectors ? w.left_offset + side : 0;
  w.work_batch_stride = w.left_offset + (keep_reflectors ? 2 : 1) * side;
  w.work = layout.take(batch * w.work_batch_stride * element_size(dtype));
  w.de = layout.take(uint64_t{batch} * 2 * n * element_size(dtype));
  return w;
}

BidiagonalDiagonals band_bidiagonal_diagonals(const BandBidiagonal& w) {
  return {w.de, 2 * int64_t{w.n}, w.n};
}

void enqueue_band_bidiagonal(Backend& backend, const BandBidiagonal& w, const MatrixBatch& banded) {
  if (banded.rows < w.n || banded.cols != w.n || banded.row_stride != 1 || banded.batch != w.batch)
    throw Error("metalsvd: the band matrices must be column-major n x n");
  const std::string load = workspace_kernel_name("band_bidiagonal_load", w.dtype);
  const std::string step = workspace_kernel_name("band_bidiagonal_step", w.dtype);
  const std::string diagonals = workspace_kernel_name("band_bidiagonal_diagonals", w.dtype);
  if (backend.max_threads_for(step) < kSimd)
    throw NotImplemented("metalsvd: band_bidiagonal_step needs a SIMD group");
  kernels::BandBidiagonalParams p{};
  p.a_batch_stride = banded.batch_stride;
  p.work_batch_stride = w.work_batch_stride;
  p.de_batch_stride = 2 * int64_t{w.n};
  p.right_offset = w.keep_reflectors ? w.right_offset - w.left_offset : 0;
  p.batch = w.batch;
  p.n = w.n;
  p.lda = static_cast<uint32_t>(banded.col_stride);
  p.band = w.band;
  p.e_offset = w.n;
  p.keep = w.keep_reflectors ? 1 : 0;
  WorkspaceBuffers b;
  b.w0 = banded.data;
  b.w1 = w.work;
  b.w2 = w.de;
  const auto elementwise = [&](const std::string& kernel, uint32_t count) {
    p.threads = std::min(kElementThreads, backend.max_threads_for(kernel));
    p.groups = (count + p.threads - 1) / p.threads;
    launch_workspace_kernel(backend, kernel, w.batch * p.groups, p.threads, 0, p, b);
  };
  elementwise(load, w.n * kernels::band_storage_ld(w.band));
  // A task a SIMD group and a SIMD group a group: a time step has at most about n / (2 band)
  // tasks, which spread over that many multiprocessors.
  p.threads = kSimd;
  const uint32_t sweeps = kernels::band_sweeps(w.n);
  uint32_t oldest = 0;  // the oldest sweep not yet finished
  for (uint32_t t = 0; sweeps > 0 && oldest < sweeps; ++t) {
    while (oldest < sweeps && t >= 2 * oldest + kernels::band_sweep_tasks(w.n, w.band, oldest))
      ++oldest;
    const uint32_t newest = std::min(t / 2, sweeps - 1);
    if (oldest > newest) continue;  // the last sweeps have one task: every other step is empty
    p.step = t;
    p.newest = newest;
    p.tasks = newest - oldest + 1;
    p.groups = p.tasks;
    launch_workspace_kernel(backend, step, w.batch * p.groups, p.threads, 0, p, b);
  }
  elementwise(diagonals, w.n);
}

uint32_t band_back_transform_stages(uint32_t n, uint32_t band, uint64_t groups, uint32_t most,
                                    const std::function<uint64_t(uint32_t stages)>& concurrent) {
  const uint32_t sweep_groups = kernels::band_sweep_groups(n, band);
  if (sweep_groups == 0 || most == 0) return most;
  const uint32_t first = std::min(most, sweep_groups);
  const uint32_t last = std::min(first, kMinBackTransformStages);
  uint32_t best = first;
  uint64_t best_cost = UINT64_MAX;
  for (uint32_t stages = first; stages >= last; stages /= 2) {
    const uint64_t at_once = concurrent(stages);
    if (at_once == 0) break;  // the device cannot tell: the most, or the best found
    const uint64_t waves = (groups + at_once - 1) / at_once;
    const uint64_t cost = waves * kernels::band_back_transform_times(n, band, stages);
    if (cost < best_cost) {
      best = stages;
      best_cost = cost;
    }
  }
  return best;
}

void enqueue_band_back_transform(Backend& backend, const BandBidiagonal& w, BandSide side,
                                 const MatrixBatch& x) {
  if (!w.keep_reflectors) throw Error("metalsvd: the band reduction's reflectors were not kept");
  if (x.rows != w.n || x.batch != w.batch || x.dtype != w.dtype)
    throw Error("metalsvd: the back-transformation takes n-row matrices of the band's batch");
  const uint32_t sweep_groups = kernels::band_sweep_groups(w.n, w.band);
  if (sweep_groups == 0 || x.cols == 0) return;
  const std::string kernel = workspace_kernel_name("band_back_transform", w.dtype);
  const uint32_t threads_allowed = std::min(kBackTransformThreads, backend.max_threads_for(kernel));
  if (threads_allowed < kernels::kBackTransformColumns)
    throw Error("metalsvd: the back-transformation needs a SIMD group of threads");
  const uint32_t slices =
      (x.cols + kernels::kBackTransformColumns - 1) / kernels::kBackTransformColumns;
  const uint32_t stages = band_back_transform_stages(
      w.n, w.band, uint64_t(w.batch) * slices, threads_allowed / kernels::kBackTransformColumns,
      [&](uint32_t s) {
        return backend.concurrent_groups(kernel, s * kernels::kBackTransformColumns);
      });
  kernels::BandBackTransformParams p{};
  p.x_batch_stride = x.batch_stride;
  p.x_row_stride = x.row_stride;
  p.x_col_stride = x.col_stride;
  p.reflector_batch_stride = w.work_batch_stride;
  p.batch = w.batch;
  p.n = w.n;
  p.cols = x.cols;
  p.band = w.band;
  p.threads = stages * kernels::kBackTransformColumns;
  p.last_group = sweep_groups - 1;
  p.slices = slices;
  WorkspaceBuffers b;
  b.w0 = x.data;
  b.w1 = advanced(w.work, uint64_t(side == BandSide::left ? w.left_offset : w.right_offset) *
                              element_size(w.dtype));
  launch_workspace_kernel(backend, kernel, w.batch * p.slices, p.threads, 0, p, b);
}

}  // namespace metalsvd
