#include "core/randomized_svd.h"

#include <algorithm>
#include <string>

#include "core/column_major.h"
#include "core/errors.h"
#include "core/householder_qr.h"
#include "core/svd.h"
#include "core/workspace_kernels.h"
#include "kernels/matrix_transfer.h"
#include "kernels/workspace_kernel.h"

namespace metalsvd {
namespace {

constexpr const char* kFunction = "metalsvd.randomized_svd";
constexpr uint32_t kStateStride = kernels::kStatePairFlags;

// Sizes the workspace (run == false) and enqueues the work (run == true) by the same walk.
class RandomizedWalk {
 public:
  RandomizedWalk(Backend& backend, const MatrixBatch& a, uint32_t k, uint32_t sketch,
                 const TruncatedSvdOutputs& out)
      : backend_(backend), a_(a), k_(k), l_(sketch), out_(out), c_(compute_type(a.dtype)) {}

  uint64_t workspace_bytes() {
    WorkspaceLayout layout;
    walk(layout, false, 0, {});
    return layout.bytes();
  }

  void enqueue(Buffer workspace, uint32_t power_iterations, const MatrixBatch& omega) {
    WorkspaceLayout layout(workspace);
    walk(layout, true, power_iterations, omega);
  }

 private:
  // Q of a Householder QR of x, in place: the thin Q is Q applied to [I; 0].
  void orthonormalize(const MatrixBatch& x, const HouseholderFactors& f) {
    enqueue_householder_qr(backend_, x, f);
    enqueue_set_identity(backend_, x, 0);
    enqueue_apply_q(backend_, f, x);
  }

  void walk(WorkspaceLayout& layout, bool run, uint32_t power_iterations,
            const MatrixBatch& omega) {
    const uint32_t batch = a_.batch;
    const Buffer state = layout.take(uint64_t{batch} * kStateStride * 4);
    const TallInput t = take_tall_input(layout, a_, out_);
    const uint32_t m = t.a.rows, n = t.a.cols;
    const MatrixBatch y = take_matrix(layout, c_, batch, m, l_);
    const MatrixBatch z = take_matrix(layout, c_, batch, n, l_);
    const HouseholderFactors fy =
        householder_factors(layout, backend_.limits(), c_, batch, m, l_, l_);
    const HouseholderFactors fz =
        householder_factors(layout, backend_.limits(), c_, batch, n, l_, l_);
    // The small SVD: Z = A^T Q (n x l) = U_b S V_b^T, so A ~ Q Q^T A = (Q V_b) S U_b^T.
    const MatrixBatch ub = take_matrix(layout, c_, batch, n, l_);
    const MatrixBatch sb = take_matrix(layout, c_, batch, 1, l_);
    const MatrixBatch vb = take_matrix(layout, c_, batch, l_, l_);
    const MatrixBatch uk = take_matrix(layout, c_, batch, m, k_);
    const uint64_t svd_bytes = svd_workspace_bytes(backend_, z, false);
    const Buffer svd_workspace = svd_bytes > 0 ? layout.take(svd_bytes) : Buffer{};
    if (!run) return;

    load_tall_input(backend_, t, state, kStateStride);
    backend_.gemm({t.a, omega, y, 1.0, 0.0});
    orthonormalize(y, fy);
    for (uint32_t i = 0; i < power_iterations; ++i) {
      backend_.gemm({transposed(t.a), y, z, 1.0, 0.0});
      orthonormalize(z, fz);
      backend_.gemm({t.a, z, y, 1.0, 0.0});
      orthonormalize(y, fy);
    }
    backend_.gemm({transposed(t.a), y, z, 1.0, 0.0});
    SvdOutputs small;
    small.u = ub;
    small.s = VectorBatch{sb.data, c_, batch, l_, sb.batch_stride, 1};
    small.v = vb;
    small.info = out_.info;
    svd(backend_, z, false, small, svd_workspace);
    backend_.gemm({y, sub_block(vb, 0, 0, l_, k_), uk, 1.0, 0.0});
    enqueue_store(backend_, uk, t.u, {}, 0, 0);
    enqueue_store(backend_, sub_block(ub, 0, 0, n, k_), t.v, {}, 0, 0);
    const Buffer s_state = t.loaded ? state : Buffer{};
    enqueue_store(backend_, sub_block(sb, 0, 0, 1, k_), vector_as_row(out_.s), s_state,
                  t.loaded ? kStateStride : 0, t.loaded ? uint32_t{kernels::kTransferScaled} : 0u);
  }

  Backend& backend_;
  MatrixBatch a_;
  uint32_t k_;
  uint32_t l_;
  TruncatedSvdOutputs out_;
  ScalarType c_;
};

}  // namespace

uint32_t randomized_sketch_columns(uint32_t rows, uint32_t cols, uint32_t k, uint32_t oversample) {
  const uint64_t wanted = uint64_t{k} + oversample;
  return static_cast<uint32_t>(std::min<uint64_t>(wanted, std::min(rows, cols)));
}

uint64_t randomized_svd_workspace_bytes(Backend& backend, const MatrixBatch& a, uint32_t k,
                                        uint32_t sketch_columns) {
  if (a.batch == 0) return 0;
  TruncatedSvdOutputs shapes;
  shapes.u = {{}, a.dtype, a.batch, a.rows, k, 0, 1, a.rows};
  shapes.v = {{}, a.dtype, a.batch, a.cols, k, 0, 1, a.cols};
  return RandomizedWalk(backend, a, k, sketch_columns, shapes).workspace_bytes();
}

void randomized_svd(Backend& backend, const MatrixBatch& a, uint32_t k, uint32_t power_iterations,
                    const MatrixBatch& omega, const TruncatedSvdOutputs& out, Buffer workspace) {
  check_truncated(backend, kFunction, a, k, out);
  const uint32_t l = omega.cols;
  if (omega.rows != std::min(a.rows, a.cols) || l < k || l > omega.rows || omega.batch != a.batch ||
      omega.dtype != compute_type(a.dtype) || !blas_layout(omega))
    throw InvalidArgument(std::string(kFunction) +
                          ": the test matrix must be min(m, n) x l with k <= l <= min(m, n), in "
                          "the compute type, one per matrix");
  if (a.batch == 0) return;
  RandomizedWalk walk(backend, a, k, l, out);
  if (walk.workspace_bytes() > 0 && workspace.handle == nullptr)
    throw InvalidArgument(std::string(kFunction) + ": this problem needs a workspace");
  walk.enqueue(workspace, power_iterations, omega);
}

}  // namespace metalsvd
