#include "core/bidiagonal_reduction.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "core/column_major.h"
#include "core/errors.h"
#include "core/workspace_kernels.h"
#include "kernels/bidiagonal_reduction.h"
#include "kernels/bidiagonal_resident.h"

namespace metalsvd {
namespace {

using kernels::kBrdPanel;
using kernels::kBrdThreads;

kernels::BidiagonalLayout layout_of(const BidiagonalReduction& r) {
  return kernels::bidiagonal_layout(r.rows, r.cols, r.batch);
}

// A column-major view into one kind of array of the region (offset: of matrix 0's element).
MatrixBatch region_matrix(const BidiagonalReduction& r, int64_t offset, int64_t batch_stride,
                          uint32_t rows, uint32_t cols, uint32_t ld) {
  return column_major(advanced(r.region, static_cast<uint64_t>(offset) * element_size(r.dtype)),
                      r.dtype, r.batch, rows, cols, ld, batch_stride);
}

// The elements a group from which the GEMV kernels take 1024 threads, and 512: below, 256.
// Timed launch by launch on an H100 with every launch at 256, 512 and 1024 threads
// (bench/profile_svd.py --threads --launches; bench/results/2026-12-06_nvidia-h100_gemv.txt):
// 1024 threads lead where a group's GEMV is large — at 4096^2 the column kernel's groups of 32
// columns took 26 us a launch with 1024 threads, 29 with 512, down to ~2300 rows; the row
// kernel's of 32 rows of 2048 9.2 us, 10.2 —; 512 lead over most of 1024^2 and 2048^2 (groups
// of 16 columns or rows and fewer), by up to 1 us a launch of 6-9; 256 once a group has a few
// thousand elements (the last ~600 columns of a square matrix for the column kernel, whose
// groups narrow to 4 columns, the last ~220 for the row kernel, whose groups keep 8 rows).
// Between 2^15 and 2^17 elements the column kernel's lead went either way (2048^2's first
// groups: 512 by 2%; 4096^2 above 2^16: 1024 by 10-20%), so 1024 keep them.
constexpr uint64_t kWideGroup = uint64_t{1} << 15;
constexpr uint64_t kColumnMiddleGroup = uint64_t{1} << 12;
constexpr uint64_t kRowMiddleGroup = uint64_t{1} << 11;

// bidiagonal_resident's threads: a thread a row, in whole SIMD groups.
uint32_t resident_threads(uint32_t rows) {
  return (rows + kernels::kSimdWidth - 1) / kernels::kSimdWidth * kernels::kSimdWidth;
}

// The form of bidiagonal_resident for groups of `threads`: the narrow one where it takes them
// (on CUDA it has twice the registers a thread).
std::string resident_kernel_name(uint32_t threads, ScalarType dtype) {
  return workspace_kernel_name(threads <= kernels::kBrdResidentNarrowThreads
                                   ? "bidiagonal_resident_narrow"
                                   : "bidiagonal_resident",
                               dtype);
}

class ReductionLaunches {
 public:
  ReductionLaunches(Backend& backend, const BidiagonalReduction& r,
                    const BidiagonalLaunchShape& shape)
      : backend_(backend),
        r_(r),
        threads_(shape.threads),
        groups_(shape.groups != 0 ? shape.groups : kBidiagonalGroups),
        tail_(shape.tail >= 0 ? shape.tail : kBidiagonalTail) {
    // The GEMV kernels' thread counts within what their compiled form allows (a Metal pipeline
    // may take fewer than the device's 1024): the column kernel in whole sets of 256.
    const uint32_t column_limit =
        backend.max_threads_for(workspace_kernel_name("bidiagonal_column", r.dtype));
    const uint32_t row_limit =
        backend.max_threads_for(workspace_kernel_name("bidiagonal_row", r.dtype));
    column_limit_ = column_limit / kBrdThreads * kBrdThreads;
    tail_threads_ =
        std::min(kernels::kBrdMaxThreads,
                 backend.max_threads_for(workspace_kernel_name("bidiagonal_tail", r.dtype)) /
                     kernels::kSimdWidth * kernels::kSimdWidth);
    row_limit_ = row_limit / kernels::kSimdWidth * kernels::kSimdWidth;
    if (column_limit_ == 0 || row_limit_ < kBrdThreads)
      throw NotImplemented("metalsvd: the bidiagonalisation kernels need " +
                           std::to_string(kBrdThreads) + " threads a group, the device allows " +
                           std::to_string(std::min(column_limit, row_limit)));
    p_.q_t_batch_stride = r.q.triangles_batch_stride;
    p_.p_t_batch_stride = r.p.triangles_batch_stride;
    p_.batch = r.batch;
    p_.rows = r.rows;
    p_.cols = r.cols;
    buffers_.w0 = r.region;
    buffers_.w1 = r.q.triangles;
    buffers_.w2 = r.cols > 1 ? r.p.triangles : r.q.triangles;
  }

  // The whole reduction by bidiagonal_resident: one launch, one grid barrier a column.
  void resident() {
    p_.panel = 0;
    p_.width = r_.cols;
    p_.step = 0;
    p_.groups_per_matrix = kernels::brd_resident_groups(r_.cols);
    p_.partial_groups = 0;
    p_.threads = resident_threads(r_.rows);
    p_.extent = 0;
    p_.early_loads = 0;
    launch_workspace_kernel(
        backend_, resident_kernel_name(p_.threads, r_.dtype), r_.batch * p_.groups_per_matrix,
        p_.threads, kernels::brd_resident_scratch_elements(p_.threads) * element_size(r_.dtype), p_,
        buffers_,
        /*grid_barriers=*/true);
  }

  // Whether the rest of the reduction from panel boundary p0 on is bidiagonal_tail's: small
  // enough for the tail size, and within the device's threadgroup memory.
  bool tail_from(uint32_t p0) const {
    const uint32_t rows = r_.rows - p0;
    const uint32_t cols = r_.cols - p0;
    if (tail_threads_ == 0 || !bidiagonal_tail_from(rows, cols, tail_)) return false;
    const uint64_t bytes = uint64_t{kernels::brd_tail_scratch_elements(tail_threads_, rows, cols)} *
                           element_size(r_.dtype);
    return bytes <= backend_.limits().threadgroup_memory_bytes;
  }

  // The reduction of A[p0.., p0..] to the end by one group a matrix.
  void tail(uint32_t p0) {
    p_.panel = p0;
    p_.width = r_.cols - p0;
    p_.step = 0;
    p_.groups_per_matrix = 1;
    p_.partial_groups = 0;
    p_.threads = tail_threads_;
    p_.extent = 0;
    launch("bidiagonal_tail",
           kernels::brd_tail_scratch_elements(p_.threads, r_.rows - p0, r_.cols - p0));
  }

  void panel(uint32_t p0, uint32_t width) {
    p_.panel = p0;
    p_.width = width;
    p_.step = 0;
    p_.groups_per_matrix = kernels::brd_groups(r_.rows - p0, kBrdThreads);
    p_.threads = kBrdThreads;
    launch("bidiagonal_panel_start", kernels::kSimdWidth);
    uint32_t previous_groups = p_.groups_per_matrix;
    for (uint32_t i = 0; i < width; ++i) {
      const uint32_t rows = r_.rows - p0;
      const uint32_t cols = r_.cols - p0;
      const uint64_t trailing = uint64_t{rows - i} * (cols - i) * r_.batch;
      p_.step = i;
      p_.partial_groups = previous_groups;
      p_.extent = bidiagonal_group_extent(cols - i - 1, r_.batch, kernels::kBrdMaxCols,
                                          kernels::kBrdMinCols, groups_);
      p_.groups_per_matrix = kernels::brd_groups(cols - i - 1, p_.extent);
      p_.threads = threads_for(BidiagonalStep::column, trailing, column_limit_);
      launch("bidiagonal_column", kernels::brd_scratch_elements(p_.threads));
      if (i + 1 >= cols) break;
      p_.partial_groups = p_.groups_per_matrix;
      p_.extent = bidiagonal_group_extent(rows - i - 1, r_.batch, kernels::kBrdMaxRows,
                                          kernels::kBrdMinRows, groups_);
      p_.groups_per_matrix = kernels::brd_groups(rows - i - 1, p_.extent);
      p_.threads = threads_for(BidiagonalStep::row, trailing, row_limit_);
      launch("bidiagonal_row", kernels::brd_scratch_elements(p_.threads));
      previous_groups = p_.groups_per_matrix;
    }
  }

 private:
  // The threads of a `step` launch of p_.groups_per_matrix groups a matrix over `trailing`
  // elements.
  uint32_t threads_for(BidiagonalStep step, uint64_t trailing, uint32_t limit) const {
    const uint64_t groups = uint64_t{p_.groups_per_matrix} * r_.batch;
    return std::min(threads_ != 0 ? threads_ : bidiagonal_threads(step, trailing / groups), limit);
  }

  void launch(const char* function, uint32_t scratch_elements) {
    const std::string name = workspace_kernel_name(function, r_.dtype);
    const uint32_t groups = r_.batch * p_.groups_per_matrix;
    // The share of the device's concurrent groups the launch takes (0 where the backend cannot
    // tell). Early loads where this launch's groups and the previous launch's fit the device
    // together: at every launch on an H100, 4096^2 (128 groups of 1024 threads, one a
    // multiprocessor) was 3% slower with them, 1024^2 and 2048^2 (64 groups) 2-4% faster; with
    // this rule 1024^2 2%, 2048^2 7% and 4096^2 2% faster than without early loads
    // (bench/results/2026-12-07_nvidia-h100_early_loads.txt).
    const double share = device_share(name, groups, p_.threads);
    p_.early_loads = previous_share_ + share <= 1.0 ? 1 : 0;
    previous_share_ = share;
    launch_workspace_kernel(backend_, name, groups, p_.threads,
                            scratch_elements * element_size(r_.dtype), p_, buffers_);
  }

  double device_share(const std::string& name, uint32_t groups, uint32_t threads) {
    const auto key = std::make_pair(name, threads);
    auto known = concurrent_groups_.find(key);
    if (known == concurrent_groups_.end())
      known = concurrent_groups_.emplace(key, backend_.concurrent_groups(name, threads)).first;
    return known->second == 0 ? 0.0 : static_cast<double>(groups) / known->second;
  }

  Backend& backend_;
  const BidiagonalReduction& r_;
  uint32_t threads_;
  uint32_t groups_;
  int32_t tail_;
  uint32_t tail_threads_ = 0;
  uint32_t column_limit_ = 0;
  uint32_t row_limit_ = 0;
  kernels::BidiagonalParams p_{};
  WorkspaceBuffers buffers_;
  // Groups of a kernel and threads the device runs at once, asked once each; the share of them
  // the previous launch took.
  std::map<std::pair<std::string, uint32_t>, uint64_t> concurrent_groups_;
  double previous_share_ = 1.0;
};

// The panels of xGEBRD: each panel's column and row launches (or the tail from where it takes
// over), then the trailing matrix's update by two GEMMs.
void enqueue_panels(Backend& backend, const BidiagonalReduction& r, ReductionLaunches& launches) {
  const kernels::BidiagonalLayout l = layout_of(r);
  for (uint32_t p0 = 0; p0 < r.cols; p0 += kBrdPanel) {
    if (launches.tail_from(p0)) {
      launches.tail(p0);
      break;
    }
    const uint32_t width = std::min(kBrdPanel, r.cols - p0);
    launches.panel(p0, width);
    const uint32_t done = p0 + width;
    if (done >= r.cols) break;
    // A[done.., done..] -= V Y^T + X U^T: the panel's reflectors V (in Yq) and U (in Yp) with
    // the panel's X and Y (panel-local rows).
    const uint32_t rows = r.rows - done;
    const uint32_t cols = r.cols - done;
    const MatrixBatch trailing =
        region_matrix(r, l.a + int64_t{done} * r.rows + done, l.a_stride, rows, cols, r.rows);
    const MatrixBatch v =
        region_matrix(r, l.yq + int64_t{p0} * r.rows + done, l.yq_stride, rows, width, r.rows);
    const MatrixBatch y = region_matrix(r, l.y + width, l.y_stride, cols, width, r.cols);
    const MatrixBatch x = region_matrix(r, l.x + width, l.x_stride, rows, width, r.rows);
    const MatrixBatch u =
        region_matrix(r, l.yp + int64_t{p0} * r.cols + done, l.yp_stride, cols, width, r.cols);
    backend.gemm({v, transposed(y), trailing, -1.0, 1.0});
    backend.gemm({x, transposed(u), trailing, -1.0, 1.0});
  }
}

}  // namespace

bool bidiagonal_resident(Backend& backend, const BidiagonalLaunchShape& shape, ScalarType dtype,
                         uint32_t batch, uint32_t rows, uint32_t cols) {
  if (shape.resident == 0 || (shape.resident == -1 && rows > kBrdResidentPlanRows)) return false;
  if (dtype != ScalarType::f32 || rows > kernels::kBrdResidentMaxRows || rows < cols || cols == 0)
    return false;
  const uint32_t threads = resident_threads(rows);
  const std::string name = resident_kernel_name(threads, dtype);
  if (threads > backend.max_threads_for(name)) return false;
  const uint64_t bytes =
      uint64_t{kernels::brd_resident_scratch_elements(threads)} * element_size(dtype);
  if (bytes > backend.limits().threadgroup_memory_bytes) return false;
  const uint64_t groups = uint64_t{batch} * kernels::brd_resident_groups(cols);
  return backend.grid_barrier_groups(name, threads, static_cast<uint32_t>(bytes)) >= groups;
}

BidiagonalReduction bidiagonal_reduction_workspace(WorkspaceLayout& layout, ScalarType dtype,
                                                   uint32_t batch, uint32_t rows, uint32_t cols,
                                                   uint32_t q_apply_cols, uint32_t p_apply_cols) {
  if (rows < cols || cols == 0)
    throw Error("metalsvd: the bidiagonalisation needs rows >= cols > 0");
  BidiagonalReduction r;
  r.dtype = dtype;
  r.batch = batch;
  r.rows = rows;
  r.cols = cols;
  const kernels::BidiagonalLayout l = kernels::bidiagonal_layout(rows, cols, batch);
  r.region = layout.take(static_cast<uint64_t>(l.total) * element_size(dtype));
  r.q = householder_factors_for(layout, region_matrix(r, l.yq, l.yq_stride, rows, cols, rows),
                                q_apply_cols);
  if (cols > 1)
    r.p = householder_factors_for(
        layout, region_matrix(r, l.yp + 1, l.yp_stride, cols - 1, cols - 1, cols), p_apply_cols);
  return r;
}

MatrixBatch bidiagonal_input(const BidiagonalReduction& r) {
  const kernels::BidiagonalLayout l = layout_of(r);
  return region_matrix(r, l.a, l.a_stride, r.rows, r.cols, r.rows);
}

BidiagonalDiagonals bidiagonal_diagonals(const BidiagonalReduction& r) {
  const kernels::BidiagonalLayout l = layout_of(r);
  BidiagonalDiagonals de;
  de.data = advanced(r.region, static_cast<uint64_t>(l.de) * element_size(r.dtype));
  de.batch_stride = l.de_stride;
  de.e_offset = r.cols;
  return de;
}

uint32_t bidiagonal_threads(BidiagonalStep step, uint64_t elements) {
  if (elements >= kWideGroup) return kernels::kBrdMaxThreads;
  if (elements >= (step == BidiagonalStep::column ? kColumnMiddleGroup : kRowMiddleGroup))
    return 2 * kBrdThreads;
  return kBrdThreads;
}

uint32_t bidiagonal_group_extent(uint32_t count, uint32_t batch, uint32_t largest,
                                 uint32_t smallest, uint32_t groups) {
  uint32_t extent = largest;
  while (extent > smallest && uint64_t{batch} * kernels::brd_groups(count, extent) < groups)
    extent /= 2;
  return extent;
}

bool bidiagonal_tail_from(uint32_t rows, uint32_t cols, int32_t tail) {
  const uint64_t t = static_cast<uint64_t>(std::max(tail, 0));
  return uint64_t{rows} * cols <= t * t;
}

void enqueue_bidiagonal_reduction(Backend& backend, const BidiagonalReduction& r,
                                  const BidiagonalLaunchShape& shape) {
  ReductionLaunches launches(backend, r, shape);
  if (bidiagonal_resident(backend, shape, r.dtype, r.batch, r.rows, r.cols))
    launches.resident();
  else
    enqueue_panels(backend, r, launches);
  if (!r.form_triangles) return;
  enqueue_householder_triangles(backend, r.q);
  if (r.cols > 1) enqueue_householder_triangles(backend, r.p);
}

void enqueue_apply_bidiagonal_q(Backend& backend, const BidiagonalReduction& r,
                                const MatrixBatch& x) {
  enqueue_apply_q(backend, r.q, x);
}

void enqueue_apply_bidiagonal_p(Backend& backend, const BidiagonalReduction& r,
                                const MatrixBatch& w) {
  if (r.cols < 2) return;  // P = I
  enqueue_apply_q(backend, r.p, sub_block(w, 1, 0, r.cols - 1, w.cols));
}

}  // namespace metalsvd
