#include "core/workspace_kernels.h"

#include <algorithm>

#include "core/errors.h"
#include "kernels/group_reduce.h"
#include "kernels/matrix_transfer.h"

namespace metalsvd {
namespace {

constexpr uint32_t kTransferThreads = 256;
// Elements each thread of a transfer handles at least: fewer groups for small matrices.
constexpr uint32_t kTransferElementsPerThread = 8;
constexpr uint32_t kMaxGroupsPerMatrix = 1024;

uint32_t groups_per_matrix(uint64_t elements) {
  const uint64_t per_group = uint64_t{kTransferThreads} * kTransferElementsPerThread;
  return static_cast<uint32_t>(
      std::clamp<uint64_t>((elements + per_group - 1) / per_group, 1, kMaxGroupsPerMatrix));
}

void check_column_major(const MatrixBatch& m, const char* what) {
  if (m.row_stride != 1 || m.col_stride < static_cast<int64_t>(m.rows))
    throw Error(std::string("metalsvd: ") + what + " must be a column-major workspace");
}

kernels::MatrixTransferParams transfer_params(const MatrixBatch& user, const MatrixBatch& work,
                                              uint32_t state_stride, uint32_t mode) {
  kernels::MatrixTransferParams p{};
  p.io_batch_stride = user.batch_stride;
  p.io_row_stride = user.row_stride;
  p.io_col_stride = user.col_stride;
  p.work_batch_stride = work.batch_stride;
  p.batch = user.batch;
  p.rows = user.rows;
  p.cols = user.cols;
  p.work_ld = static_cast<uint32_t>(work.col_stride);
  p.work_rows = work.rows;
  p.work_cols = work.cols;
  p.state_stride = state_stride;
  p.threads = kTransferThreads;
  p.mode = mode;
  return p;
}

}  // namespace

void launch_workspace_kernel(Backend& backend, const std::string& name, uint32_t groups,
                             uint32_t threads, uint32_t threadgroup_bytes, const void* params,
                             uint32_t params_size, const WorkspaceBuffers& buffers,
                             bool grid_barriers) {
  if (groups == 0) return;
  KernelLaunch launch;
  launch.name = name;
  launch.groups = groups;
  launch.threads_per_group = threads;
  launch.threadgroup_memory_bytes = threadgroup_bytes;
  launch.params = params;
  launch.params_size = params_size;
  launch.buffers = {buffers.io, buffers.w0, buffers.w1, buffers.w2, buffers.state, buffers.info};
  Buffer any;
  for (int i = 0; i < 6; ++i)
    if (launch.buffers[i].handle != nullptr) any = launch.buffers[i];
  for (int i = 0; i < 6; ++i)
    if (launch.buffers[i].handle == nullptr) launch.buffers[i] = any;
  launch.num_buffers = 6;
  launch.grid_barriers = grid_barriers;
  backend.launch(launch);
}

uint64_t scale_exponent_scratch_bytes(const MatrixBatch& a) {
  return uint64_t{a.batch} * groups_per_matrix(uint64_t{a.rows} * a.cols) *
         element_size(compute_type(a.dtype));
}

void enqueue_scale_exponent(Backend& backend, const MatrixBatch& a, Buffer state,
                            uint32_t state_stride, Buffer partial_max) {
  // Many groups find partial maxima, then one group per matrix combines them.
  kernels::MatrixTransferParams p = transfer_params(a, a, state_stride, 0);
  p.groups_per_matrix = groups_per_matrix(uint64_t{a.rows} * a.cols);
  WorkspaceBuffers b;
  b.io = a.data;
  b.w0 = partial_max;
  b.state = state;
  const ScalarType c = compute_type(a.dtype);
  const uint32_t scratch = kernels::kSimdWidth * element_size(c);
  launch_workspace_kernel(backend, workspace_kernel_name("matrix_partial_max", a.dtype),
                          a.batch * p.groups_per_matrix, kTransferThreads, scratch, p, b);
  b.io = Buffer{};
  launch_workspace_kernel(backend, workspace_kernel_name("matrix_scale_exponent", c), a.batch,
                          kTransferThreads, scratch, p, b);
}

namespace {

// A transfer kernel over `elements` per matrix, for every matrix of p.batch.
void launch_transfer(Backend& backend, const char* function, ScalarType type,
                     kernels::MatrixTransferParams p, Buffer io, Buffer work, Buffer state,
                     uint64_t elements) {
  p.groups_per_matrix = groups_per_matrix(elements);
  WorkspaceBuffers b;
  b.io = io;
  b.w0 = work;
  b.state = state;
  launch_workspace_kernel(backend, workspace_kernel_name(function, type),
                          p.batch * p.groups_per_matrix, kTransferThreads, 0, p, b);
}

}  // namespace

void enqueue_load(Backend& backend, const MatrixBatch& src, const MatrixBatch& dst, Buffer state,
                  uint32_t state_stride, uint32_t mode) {
  check_column_major(dst, "a load's destination");
  launch_transfer(backend, "matrix_load", src.dtype, transfer_params(src, dst, state_stride, mode),
                  src.data, dst.data, state, uint64_t{dst.rows} * dst.cols);
}

void enqueue_store(Backend& backend, const MatrixBatch& src, const MatrixBatch& dst, Buffer state,
                   uint32_t state_stride, uint32_t mode) {
  check_column_major(src, "a store's source");
  launch_transfer(backend, "matrix_store", dst.dtype, transfer_params(dst, src, state_stride, mode),
                  dst.data, src.data, state, uint64_t{dst.rows} * dst.cols);
}

void enqueue_status_to_info(Backend& backend, ScalarType dtype, uint32_t batch, Buffer state,
                            uint32_t state_stride, Buffer info) {
  kernels::MatrixTransferParams p{};
  p.batch = batch;
  p.state_stride = state_stride;
  p.threads = kTransferThreads;
  WorkspaceBuffers b;
  b.state = state;
  b.info = info;
  launch_workspace_kernel(
      backend, workspace_kernel_name("matrix_status_to_info", compute_type(dtype)),
      (batch + kTransferThreads - 1) / kTransferThreads, kTransferThreads, 0, p, b);
}

void enqueue_set_identity(Backend& backend, const MatrixBatch& dst, int32_t diagonal_offset) {
  check_column_major(dst, "an identity's destination");
  kernels::MatrixTransferParams p = transfer_params(dst, dst, 0, 0);
  p.diagonal_offset = diagonal_offset;
  launch_transfer(backend, "matrix_set_identity", dst.dtype, p, Buffer{}, dst.data, Buffer{},
                  uint64_t{dst.rows} * dst.cols);
}

}  // namespace metalsvd
