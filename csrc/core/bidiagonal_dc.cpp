#include "core/bidiagonal_dc.h"

#include <algorithm>

#include "core/column_major.h"
#include "core/errors.h"
#include "core/workspace_kernels.h"
#include "kernels/bidiagonal_dc.h"
#include "kernels/dc_apply.h"

namespace metalsvd {
namespace {

using kernels::DcNode;

constexpr uint32_t kValueThreads = 256;  // the per-value kernels: 8 SIMD groups, 8 values

uint32_t deflate_threads(uint32_t rows) {
  return std::clamp<uint32_t>((rows + 31) / 32 * 32, 32, 256);
}

class DcLevels {
 public:
  DcLevels(Backend& backend, const DcWorkspace& ws, ScalarType dtype, uint32_t batch, uint32_t n,
           const DcInput& input, Buffer state, uint32_t state_stride, uint32_t gemm_rows)
      : backend_(backend), ws_(ws), dtype_(dtype), batch_(batch), n_(n), gemm_rows_(gemm_rows) {
    p_.real_stride = ws.real_stride;
    p_.matrix_stride = ws.matrix_stride;
    p_.int_stride = ws.int_stride;
    p_.de_stride = input.batch_stride;
    p_.batch = batch;
    p_.n = n;
    p_.e_offset = input.e_offset;
    p_.state_stride = state_stride;
    buffers_.io = input.d;
    buffers_.w0 = ws.real;
    buffers_.w1 = ws.matrices;
    buffers_.w2 = ws.ints;
    buffers_.state = state;
  }

  void level(uint32_t level) {
    p_.level = level;
    p_.nodes = 1u << level;
    p_.parity = level & 1u;
    const uint32_t largest = kernels::dc_max_rows(n_, level);
    p_.threads = deflate_threads(largest);
    launch("dc_deflate", batch_ * p_.nodes, 0);
    p_.threads = kValueThreads;
    p_.groups_per_matrix = (n_ + kValueThreads / 32 - 1) / (kValueThreads / 32);
    const uint32_t value_groups = batch_ * p_.groups_per_matrix;
    launch("dc_roots", value_groups, 0);
    launch("dc_zhat", value_groups, 0);
    launch("dc_vectors", value_groups, 0);
    if (largest >= gemm_rows_) {
      for (uint32_t index = 0; index < p_.nodes; ++index)
        node_gemms(kernels::dc_node_at(n_, level, index));
      return;
    }
    p_.threads = kernels::kDcApplyThreads;
    p_.tiles = (largest + 1 + kernels::kDcApplyTile - 1) / kernels::kDcApplyTile;
    launch("dc_apply", batch_ * p_.nodes * 4 * p_.tiles * p_.tiles,
           2 * kernels::kDcApplyTile * kernels::kDcApplyTileLd * element_size(dtype_));
  }

  MatrixBatch matrix(uint32_t which) const {
    const uint64_t offset = uint64_t{which} * batch_ * ws_.matrix_stride * element_size(dtype_);
    return column_major(advanced(ws_.matrices, offset), dtype_, batch_, n_, n_, n_,
                        ws_.matrix_stride);
  }

 private:
  void launch(const char* function, uint32_t groups, uint32_t scratch_bytes) {
    launch_workspace_kernel(backend_, workspace_kernel_name(function, dtype_), groups, p_.threads,
                            scratch_bytes, p_, buffers_);
  }

  // The node's four products diag(U_left, U_right) Q_U, diag(W_left, W_right) Q_W as GEMMs
  // (the middle row of U is dc_vectors'). Large nodes only: neither child is empty.
  void node_gemms(const DcNode& node) {
    const uint32_t prev = p_.parity ^ 1u;
    const uint32_t nl = kernels::dc_left_rows(node.rows);
    const uint32_t nr = kernels::dc_right_rows(node.rows);
    const uint32_t r0 = node.r0;
    const uint32_t k = r0 + nl;
    const uint32_t cols = node.rows + node.sq;
    const MatrixBatch u_prev = matrix(kernels::kDcU0 + prev);
    const MatrixBatch u_next = matrix(kernels::kDcU0 + p_.parity);
    const MatrixBatch w_prev = matrix(kernels::kDcW0 + prev);
    const MatrixBatch w_next = matrix(kernels::kDcW0 + p_.parity);
    const MatrixBatch qu = matrix(kernels::kDcQU);
    const MatrixBatch qw = matrix(kernels::kDcQW);
    backend_.gemm({sub_block(u_prev, r0, r0, nl, nl), sub_block(qu, r0, r0, nl, node.rows),
                   sub_block(u_next, r0, r0, nl, node.rows), 1.0, 0.0});
    backend_.gemm({sub_block(u_prev, k + 1, k + 1, nr, nr), sub_block(qu, k + 1, r0, nr, node.rows),
                   sub_block(u_next, k + 1, r0, nr, node.rows), 1.0, 0.0});
    backend_.gemm({sub_block(w_prev, r0, r0, nl + 1, nl + 1), sub_block(qw, r0, r0, nl + 1, cols),
                   sub_block(w_next, r0, r0, nl + 1, cols), 1.0, 0.0});
    const uint32_t right = nr + node.sq;
    backend_.gemm({sub_block(w_prev, k + 1, k + 1, right, right),
                   sub_block(qw, k + 1, r0, right, cols), sub_block(w_next, k + 1, r0, right, cols),
                   1.0, 0.0});
  }

  Backend& backend_;
  const DcWorkspace& ws_;
  ScalarType dtype_;
  uint32_t batch_, n_, gemm_rows_;
  kernels::DcParams p_{};
  WorkspaceBuffers buffers_;
};

}  // namespace

DcWorkspace dc_workspace(WorkspaceLayout& layout, ScalarType dtype, uint32_t batch, uint32_t n) {
  DcWorkspace ws;
  ws.real_stride = int64_t{kernels::kDcRealArrays} * n;
  ws.matrix_stride = int64_t{n} * n;
  ws.int_stride = int64_t{kernels::kDcIntArrays} * n;
  const uint64_t c = element_size(dtype);
  ws.real = layout.take(uint64_t{batch} * ws.real_stride * c);
  ws.matrices = layout.take(uint64_t{kernels::kDcMatrices} * batch * ws.matrix_stride * c);
  ws.ints = layout.take(uint64_t{batch} * ws.int_stride * 4);
  return ws;
}

DcResult enqueue_bidiagonal_dc(Backend& backend, const DcWorkspace& ws, ScalarType dtype,
                               uint32_t batch, uint32_t n, const DcInput& input, Buffer state,
                               uint32_t state_stride, uint32_t gemm_rows) {
  if (n == 0) throw Error("metalsvd: a bidiagonal SVD needs n > 0");
  DcLevels levels(backend, ws, dtype, batch, n, input, state, state_stride, gemm_rows);
  for (uint32_t level = kernels::dc_levels(n); level-- > 0;) levels.level(level);
  // Level 0 (the root) wrote copy 0.
  DcResult r;
  r.u = levels.matrix(kernels::kDcU0);
  r.w = levels.matrix(kernels::kDcW0);
  r.sigma = column_major(advanced(ws.real, uint64_t{kernels::kDcSigma0} * n * element_size(dtype)),
                         dtype, batch, 1, n, 1, ws.real_stride);
  return r;
}

}  // namespace metalsvd
