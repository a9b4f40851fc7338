// Enqueueing the workspace kernels (kernels/workspace_kernel.h) and the matrix transfers.
#pragma once

#include <cstdint>
#include <string>

#include "backend.h"
#include "matrix_batch.h"

namespace metalsvd {

// "function_f32": the name a backend instantiates a workspace kernel under.
inline std::string workspace_kernel_name(const char* function, ScalarType t) {
  return std::string(function) + "_" + kernel_type_name(t);
}

// The buffers of a workspace kernel; those left empty are bound to another one, unused.
struct WorkspaceBuffers {
  Buffer io, w0, w1, w2, state, info;
};

// grid_barriers: the kernel's groups meet at grid barriers (KernelLaunch::grid_barriers).
void launch_workspace_kernel(Backend& backend, const std::string& name, uint32_t groups,
                             uint32_t threads, uint32_t threadgroup_bytes, const void* params,
                             uint32_t params_size, const WorkspaceBuffers& buffers,
                             bool grid_barriers = false);

template <typename Params>
void launch_workspace_kernel(Backend& backend, const std::string& name, uint32_t groups,
                             uint32_t threads, uint32_t threadgroup_bytes, const Params& params,
                             const WorkspaceBuffers& buffers, bool grid_barriers = false) {
  launch_workspace_kernel(backend, name, groups, threads, threadgroup_bytes, &params,
                          sizeof(Params), buffers, grid_barriers);
}

// Per matrix of `a` (storage type): the scaling exponent and finiteness, into `state`, which
// it also resets (state_stride int32 a matrix). `partial_max` holds scale_exponent_scratch_bytes.
void enqueue_scale_exponent(Backend& backend, const MatrixBatch& a, Buffer state,
                            uint32_t state_stride, Buffer partial_max);
uint64_t scale_exponent_scratch_bytes(const MatrixBatch& a);

// user matrix `src` -> column-major workspace `dst` (compute type; its extent beyond src's is
// zero-filled). mode: kernels::TransferMode bits.
void enqueue_load(Backend& backend, const MatrixBatch& src, const MatrixBatch& dst, Buffer state,
                  uint32_t state_stride, uint32_t mode);

// column-major workspace `src` -> user matrix `dst` of the same extent.
void enqueue_store(Backend& backend, const MatrixBatch& src, const MatrixBatch& dst, Buffer state,
                   uint32_t state_stride, uint32_t mode);

// info[matrix] = the SvdStatus in each matrix's state (`batch` matrices; dtype: any compute
// type, it only picks the kernel's instantiation).
void enqueue_status_to_info(Backend& backend, ScalarType dtype, uint32_t batch, Buffer state,
                            uint32_t state_stride, Buffer info);

// dst = ones where row == col + diagonal_offset, zeros elsewhere.
void enqueue_set_identity(Backend& backend, const MatrixBatch& dst, int32_t diagonal_offset);

}  // namespace metalsvd
