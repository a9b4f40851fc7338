#include "core/svd.h"

#include <algorithm>
#include <optional>
#include <string>

#include "core/bidiagonal_svd.h"
#include "core/column_major.h"
#include "core/errors.h"
#include "core/householder_qr.h"
#include "core/jacobi_small_plan.h"
#include "core/workspace_kernels.h"
#include "kernels/jacobi_small_params.h"
#include "kernels/matrix_transfer.h"
#include "kernels/workspace_kernel.h"

namespace metalsvd {
namespace {

using kernels::kTransferNanIfNonFinite;
using kernels::kTransferScaled;
using kernels::kTransferUpperTriangle;

std::string shape_text(uint32_t rows, uint32_t cols) {
  return std::to_string(rows) + "x" + std::to_string(cols);
}

void check_supported(const Backend& backend, const MatrixBatch& a) {
  if (a.dtype == ScalarType::f64 && !backend.limits().supports_fp64)
    throw InvalidArgument(std::string("metalsvd.svd: float64 is not supported on the ") +
                          backend.name() + " device (it has no fp64 arithmetic)");
}

bool is_empty(const MatrixBatch& a) { return a.batch == 0 || a.rows == 0 || a.cols == 0; }

// The problem as the kernels solve it: tall, so wide inputs are transposed.
struct TallProblem {
  MatrixBatch a;
  MatrixBatch u;  // the tall problem's U (the user's V for wide inputs)
  MatrixBatch v;
};

TallProblem make_tall(const MatrixBatch& a, const SvdOutputs& out) {
  if (a.rows >= a.cols) return {a, out.u, out.v};
  return {transposed(a), out.v, out.u};
}

// Plans the work for one tall problem and walks it twice: once to size the workspace, once to
// enqueue it. Both walks take the same regions in the same order.
class SvdWalk {
 public:
  // values_only: the singular values alone; problem.u and problem.v are not used.
  SvdWalk(Backend& backend, const TallProblem& problem, const VectorBatch& s,
          const SvdTuning& tuning, bool values_only = false)
      : backend_(backend),
        t_(problem),
        s_(s),
        c_(compute_type(problem.a.dtype)),
        panel_rows_(tuning.qr_panel_rows),
        values_only_(values_only) {
    const MatrixBatch& a = t_.a;
    full_ = !values_only && t_.u.cols > a.cols;
    fused_ = plan_jacobi_small(backend.limits(), a.dtype, a.batch, a.rows, a.cols, tuning.jacobi);
    // Divide and conquer where its kernels fit the device (every real GPU; not the emulator
    // shrunk to a few KiB to test the Jacobi paths), the blocked Jacobi otherwise.
    const bool dc_fits =
        bidiagonal_svd_threadgroup_bytes(c_) <= backend.limits().threadgroup_memory_bytes;
    const SvdAlgorithm large = dc_fits ? SvdAlgorithm::bidiagonal_dc : SvdAlgorithm::blocked_jacobi;
    SvdAlgorithm algorithm = tuning.algorithm;
    if (algorithm == SvdAlgorithm::automatic)
      algorithm = fused_                             ? SvdAlgorithm::fused_jacobi
                  : qr_preconditions(a.rows, a.cols) ? SvdAlgorithm::qr_jacobi
                                                     : large;
    algorithm_ = algorithm;
    if (algorithm == SvdAlgorithm::fused_jacobi && !fused_) {
      const uint64_t needed = jacobi_small_threadgroup_bytes(a.dtype, a.rows, a.cols, false);
      throw InvalidArgument(
          "metalsvd.svd: algorithm='jacobi' needs " + std::to_string(needed) +
          " bytes of threadgroup memory for a " + shape_text(a.rows, a.cols) + " " +
          user_type_name(a.dtype) + " matrix, and the " + backend.name() + " device has " +
          std::to_string(backend.limits().threadgroup_memory_bytes) + "; use algorithm='auto'");
    }
    if (algorithm == SvdAlgorithm::qr_jacobi) {
      r_fused_ = plan_jacobi_small(backend.limits(), c_, a.batch, a.cols, a.cols, tuning.jacobi);
      if (!r_fused_ && dc_fits)
        bidiagonal_ = plan_bidiagonal_svd(backend.limits(), c_, tuning.bidiagonal);
      else if (!r_fused_)
        block_ = plan_block_jacobi(backend.limits(), c_, a.batch, a.cols, a.cols, tuning.block);
    } else if (algorithm == SvdAlgorithm::blocked_jacobi) {
      block_ = plan_block_jacobi(backend.limits(), c_, a.batch, a.rows, a.cols, tuning.block);
    } else if (algorithm == SvdAlgorithm::bidiagonal_dc) {
      bidiagonal_ = plan_bidiagonal_svd(backend.limits(), c_, tuning.bidiagonal);
    }
  }

  uint64_t workspace_bytes() {
    WorkspaceLayout layout;
    walk(layout, false, {});
    return layout.bytes();
  }

  void enqueue(Buffer workspace, Buffer info) {
    WorkspaceLayout layout(workspace);
    walk(layout, true, info);
  }

 private:
  uint32_t state_stride() const {
    return block_ ? block_->state_stride : uint32_t{kernels::kStatePairFlags};
  }

  MatrixBatch workspace_matrix(WorkspaceLayout& layout, uint32_t rows, uint32_t cols) {
    return take_matrix(layout, c_, t_.a.batch, rows, cols);
  }

  // The fused kernel's V workspace, where the plan keeps V outside threadgroup memory.
  static Buffer fused_workspace(WorkspaceLayout& layout, const JacobiSmallPlan& plan) {
    return plan.workspace_bytes > 0 ? layout.take(plan.workspace_bytes) : Buffer{};
  }

  void walk(WorkspaceLayout& layout, bool run, Buffer info) {
    const MatrixBatch& a = t_.a;
    const uint32_t m = a.rows, n = a.cols;
    if (algorithm_ == SvdAlgorithm::fused_jacobi) {
      // Without vectors the kernel's U and V go to the workspace, unread.
      const MatrixBatch u_thin =
          values_only_ ? take_matrix(layout, a.dtype, a.batch, m, n) : sub_block(t_.u, 0, 0, m, n);
      const MatrixBatch v = values_only_ ? take_matrix(layout, a.dtype, a.batch, n, n) : t_.v;
      const Buffer v_workspace = fused_workspace(layout, *fused_);
      if (run) launch_fused(*fused_, a, u_thin, v, s_, info, v_workspace);
      if (full_) complete_u(layout, run, nullptr, {});
      return;
    }
    const Buffer state = layout.take(uint64_t{a.batch} * state_stride() * 4);
    const Buffer partial_max = layout.take(scale_exponent_scratch_bytes(a));
    if (run) enqueue_scale_exponent(backend_, a, state, state_stride(), partial_max);
    if (values_only_ && algorithm_ == SvdAlgorithm::bidiagonal_dc) {
      const BidiagonalValuesWorkspace ws =
          bidiagonal_values_workspace(layout, backend_.limits(), *bidiagonal_, c_, a.batch, m, n);
      if (run) {
        enqueue_load(backend_, a, bidiagonal_values_input(ws), state, state_stride(),
                     kTransferScaled);
        store_s(enqueue_bidiagonal_svd_values(backend_, *bidiagonal_, ws), state);
        enqueue_status_to_info(backend_, c_, a.batch, state, state_stride(), info);
      }
      return;
    }
    const MatrixBatch u_thin = sub_block(t_.u, 0, 0, m, n);
    if (algorithm_ == SvdAlgorithm::bidiagonal_dc) {
      const BidiagonalSvdWorkspace ws =
          bidiagonal_svd_workspace(layout, backend_.limits(), *bidiagonal_, c_, a.batch, m, n);
      if (run) {
        enqueue_load(backend_, a, bidiagonal_svd_input(ws), state, state_stride(), kTransferScaled);
        const BidiagonalSvdResult r =
            enqueue_bidiagonal_svd(backend_, *bidiagonal_, ws, state, state_stride());
        enqueue_store(backend_, r.u, u_thin, state, state_stride(), kTransferNanIfNonFinite);
        store_s_v(r.s, r.v, state);
        enqueue_status_to_info(backend_, c_, a.batch, state, state_stride(), info);
      }
      if (full_) complete_u(layout, run, &ws.u, state);
      return;
    }
    const MatrixBatch s_c = workspace_matrix(layout, 1, n);
    const MatrixBatch v_c = workspace_matrix(layout, n, n);
    if (algorithm_ == SvdAlgorithm::blocked_jacobi) {
      const MatrixBatch u_c = workspace_matrix(layout, m, n);
      const BlockJacobiWorkspace ws = block_jacobi_workspace(layout, *block_, c_, a.batch, m, n);
      if (run) {
        const MatrixBatch g = block_jacobi_input(*block_, ws, c_, a.batch, m);
        enqueue_load(backend_, a, g, state, state_stride(), kTransferScaled);
        const BlockJacobiResult r =
            enqueue_block_jacobi(backend_, *block_, ws, c_, a.batch, m, n, u_c, state, info);
        if (values_only_) {
          store_s(r.s, state);
          return;
        }
        enqueue_store(backend_, u_c, u_thin, state, state_stride(), kTransferNanIfNonFinite);
        store_s_v(r.s, r.v, state);
      }
      if (full_) complete_u(layout, run, &u_c, state);
      return;
    }
    // QR preconditioning: A = Q R, R = U_R S V^T, U = Q [U_R; 0] (full: Q [U_R 0; 0 I]).
    // Without vectors only R's values: U_R goes to an n x n workspace, Q is never applied.
    const uint32_t u_cols = values_only_ ? n : t_.u.cols;
    const MatrixBatch x = workspace_matrix(layout, m, n);
    const MatrixBatch xu = workspace_matrix(layout, values_only_ ? n : m, u_cols);
    const HouseholderFactors factors =
        householder_factors(layout, backend_.limits(), c_, a.batch, m, n, u_cols, panel_rows_);
    const MatrixBatch r = workspace_matrix(layout, n, n);
    const MatrixBatch r_view = sub_block(x, 0, 0, n, n);
    if (run) {
      enqueue_load(backend_, a, x, state, state_stride(), kTransferScaled);
      enqueue_householder_qr(backend_, x, factors);
      if (!values_only_) enqueue_set_identity(backend_, xu, full_ ? 0 : static_cast<int32_t>(m));
    }
    if (r_fused_) {
      const Buffer v_workspace = fused_workspace(layout, *r_fused_);
      if (run) {
        enqueue_load(backend_, r_view, r, state, state_stride(), kTransferUpperTriangle);
        VectorBatch s_flat{s_c.data, c_, a.batch, n, s_c.batch_stride, 1};
        launch_fused(*r_fused_, r, sub_block(xu, 0, 0, n, n), v_c, s_flat, info, v_workspace);
        store_s_v(s_c, v_c, state);
      }
    } else if (block_) {
      const BlockJacobiWorkspace ws = block_jacobi_workspace(layout, *block_, c_, a.batch, n, n);
      if (run) {
        const MatrixBatch g = block_jacobi_input(*block_, ws, c_, a.batch, n);
        enqueue_load(backend_, r_view, g, state, state_stride(), kTransferUpperTriangle);
        const BlockJacobiResult res = enqueue_block_jacobi(
            backend_, *block_, ws, c_, a.batch, n, n, sub_block(xu, 0, 0, xu.rows, n), state, info);
        store_s_v(res.s, res.v, state);
      }
    } else if (values_only_) {
      const BidiagonalValuesWorkspace ws =
          bidiagonal_values_workspace(layout, backend_.limits(), *bidiagonal_, c_, a.batch, n, n);
      if (run) {
        enqueue_load(backend_, r_view, bidiagonal_values_input(ws), state, state_stride(),
                     kTransferUpperTriangle);
        store_s(enqueue_bidiagonal_svd_values(backend_, *bidiagonal_, ws), state);
        enqueue_status_to_info(backend_, c_, a.batch, state, state_stride(), info);
      }
    } else {
      const BidiagonalSvdWorkspace ws =
          bidiagonal_svd_workspace(layout, backend_.limits(), *bidiagonal_, c_, a.batch, n, n);
      if (run) {
        enqueue_load(backend_, r_view, bidiagonal_svd_input(ws), state, state_stride(),
                     kTransferUpperTriangle);
        const BidiagonalSvdResult res =
            enqueue_bidiagonal_svd(backend_, *bidiagonal_, ws, state, state_stride());
        enqueue_load(backend_, res.u, sub_block(xu, 0, 0, n, n), {}, 0, 0);
        store_s_v(res.s, res.v, state);
        enqueue_status_to_info(backend_, c_, a.batch, state, state_stride(), info);
      }
    }
    if (run && !values_only_) {
      enqueue_apply_q(backend_, factors, xu);
      enqueue_store(backend_, xu, t_.u, state, state_stride(), kTransferNanIfNonFinite);
    }
  }

  // S (and V) to the caller; without vectors V is left unread.
  void store_s_v(const MatrixBatch& s_c, const MatrixBatch& v_c, Buffer state) {
    store_s(s_c, state);
    if (values_only_) return;
    enqueue_store(backend_, v_c, t_.v, state, state_stride(), kTransferNanIfNonFinite);
  }

  void store_s(const MatrixBatch& s_c, Buffer state) {
    enqueue_store(backend_, s_c, s_as_matrix(), state, state_stride(),
                  kTransferNanIfNonFinite | kTransferScaled);
  }

  MatrixBatch s_as_matrix() const { return vector_as_row(s_); }

  // U's last m - n columns: Q [0; I] where U_thin = Q R is a Householder QR of the thin U.
  // `u_c` is U in the compute type if the walk has it (it is overwritten), else U is read back.
  // With a state, matrices that were not finite get nan columns.
  void complete_u(WorkspaceLayout& layout, bool run, const MatrixBatch* u_c, Buffer state) {
    const uint32_t m = t_.a.rows, n = t_.a.cols;
    const MatrixBatch x = u_c != nullptr ? *u_c : workspace_matrix(layout, m, n);
    const MatrixBatch rest = workspace_matrix(layout, m, m - n);
    const HouseholderFactors factors =
        householder_factors(layout, backend_.limits(), c_, t_.a.batch, m, n, m - n, panel_rows_);
    if (!run) return;
    if (u_c == nullptr) enqueue_load(backend_, sub_block(t_.u, 0, 0, m, n), x, {}, 0, 0);
    enqueue_householder_qr(backend_, x, factors);
    enqueue_set_identity(backend_, rest, static_cast<int32_t>(n));
    enqueue_apply_q(backend_, factors, rest);
    const bool with_state = state.handle != nullptr;
    enqueue_store(backend_, rest, sub_block(t_.u, 0, n, m, m - n), state,
                  with_state ? state_stride() : 0,
                  with_state ? uint32_t{kTransferNanIfNonFinite} : 0u);
  }

  void launch_fused(const JacobiSmallPlan& plan, const MatrixBatch& a, const MatrixBatch& u,
                    const MatrixBatch& v, const VectorBatch& s, Buffer info, Buffer v_workspace) {
    kernels::JacobiSmallParams params{};
    params.in_batch_stride = a.batch_stride;
    params.in_row_stride = a.row_stride;
    params.in_col_stride = a.col_stride;
    params.u_batch_stride = u.batch_stride;
    params.u_row_stride = u.row_stride;
    params.u_col_stride = u.col_stride;
    params.v_batch_stride = v.batch_stride;
    params.v_row_stride = v.row_stride;
    params.v_col_stride = v.col_stride;
    params.s_batch_stride = s.batch_stride;
    params.s_stride = s.stride;
    params.batch = a.batch;
    params.rows = a.rows;
    params.cols = a.cols;
    params.threads_per_pair = plan.threads_per_pair;
    params.max_sweeps = kMaxJacobiSweeps;
    params.threads = plan.threads;
    KernelLaunch launch;
    launch.name = plan.kernel;
    launch.groups = a.batch;
    launch.threads_per_group = plan.threads;
    launch.threadgroup_memory_bytes = plan.threadgroup_memory_bytes;
    launch.params = &params;
    launch.params_size = sizeof params;
    launch.buffers = {a.data, u.data, s.data, v.data, info};
    launch.num_buffers = 5;
    if (!plan.v_in_threadgroup) {
      launch.buffers[5] = v_workspace;
      launch.num_buffers = 6;
    }
    backend_.launch(launch);
  }

  Backend& backend_;
  TallProblem t_;
  VectorBatch s_;
  ScalarType c_;
  uint32_t panel_rows_;  // the QR panels' rows per group (0: the plan's)
  bool values_only_;
  bool full_ = false;
  SvdAlgorithm algorithm_ = SvdAlgorithm::automatic;
  std::optional<JacobiSmallPlan> fused_;
  std::optional<JacobiSmallPlan> r_fused_;
  std::optional<BlockJacobiPlan> block_;
  std::optional<BidiagonalSvdPlan> bidiagonal_;
};

void check_outputs(const MatrixBatch& a, bool full_matrices, const SvdOutputs& out) {
  const uint32_t k = std::min(a.rows, a.cols);
  const uint32_t u_cols = full_matrices ? a.rows : k;
  const uint32_t v_cols = full_matrices ? a.cols : k;
  if (out.u.rows != a.rows || out.u.cols != u_cols || out.v.rows != a.cols ||
      out.v.cols != v_cols || out.s.length != k || out.u.batch != a.batch ||
      out.v.batch != a.batch || out.s.batch != a.batch)
    throw InvalidArgument("metalsvd.svd: output shapes do not match the input");
  if (out.u.dtype != a.dtype || out.v.dtype != a.dtype || out.s.dtype != a.dtype)
    throw InvalidArgument("metalsvd.svd: outputs must have the input's dtype");
}

// An empty matrix has no singular values; with full_matrices its U and V are identities.
bool empty_identity_needed(const MatrixBatch& a, bool full_matrices) {
  return full_matrices && a.batch > 0 && (a.rows == 0) != (a.cols == 0);
}

void write_identity(Backend& backend, const MatrixBatch& out, WorkspaceLayout& layout, bool run) {
  if (out.rows == 0) return;
  const MatrixBatch w = take_matrix(layout, compute_type(out.dtype), out.batch, out.rows, out.cols);
  if (!run) return;
  enqueue_set_identity(backend, w, 0);
  enqueue_store(backend, w, out, {}, 0, 0);
}

}  // namespace

bool qr_preconditions(uint32_t rows, uint32_t cols) {
  const uint64_t m = rows, n = cols;
  if (m < uint64_t{kQrPreconditionRatio} * n) return false;
  const bool small = rows <= kQrPreconditionSmallRows;
  const bool large = m * n >= kQrPreconditionElements;
  return small || large || m >= uint64_t{kQrAlwaysRatio} * n;
}

uint64_t svd_workspace_bytes(Backend& backend, const MatrixBatch& a, bool full_matrices,
                             const SvdTuning& tuning) {
  check_supported(backend, a);
  WorkspaceLayout layout;
  if (is_empty(a)) {
    if (empty_identity_needed(a, full_matrices)) {
      MatrixBatch u{{}, a.dtype, a.batch, a.rows, a.rows, 0, 1, a.rows};
      MatrixBatch v{{}, a.dtype, a.batch, a.cols, a.cols, 0, 1, a.cols};
      write_identity(backend, u, layout, false);
      write_identity(backend, v, layout, false);
    }
    return layout.bytes();
  }
  SvdOutputs shapes;
  const uint32_t k = std::min(a.rows, a.cols);
  shapes.u = {{}, a.dtype, a.batch, a.rows, full_matrices ? a.rows : k, 0, 1, a.rows};
  shapes.v = {{}, a.dtype, a.batch, a.cols, full_matrices ? a.cols : k, 0, 1, a.cols};
  return SvdWalk(backend, make_tall(a, shapes), VectorBatch{}, tuning).workspace_bytes();
}

void svd(Backend& backend, const MatrixBatch& a, bool full_matrices, const SvdOutputs& out,
         Buffer workspace, const SvdTuning& tuning) {
  check_supported(backend, a);
  check_outputs(a, full_matrices, out);
  if (is_empty(a)) {
    WorkspaceLayout layout(workspace);
    if (empty_identity_needed(a, full_matrices)) {
      write_identity(backend, out.u, layout, true);
      write_identity(backend, out.v, layout, true);
    }
    return;
  }
  const TallProblem problem = make_tall(a, out);
  SvdWalk walk(backend, problem, out.s, tuning);
  const uint64_t needed = walk.workspace_bytes();
  if (needed > 0 && workspace.handle == nullptr)
    throw InvalidArgument("metalsvd.svd: this problem needs a workspace of " +
                          std::to_string(needed) + " bytes");
  walk.enqueue(workspace, out.info);
}

namespace {

// The tall problem of a values-only call: no U or V.
TallProblem values_problem(const MatrixBatch& a) {
  return {a.rows >= a.cols ? a : transposed(a), MatrixBatch{}, MatrixBatch{}};
}

void check_values_output(const MatrixBatch& a, const VectorBatch& s) {
  if (s.length != std::min(a.rows, a.cols) || s.batch != a.batch)
    throw InvalidArgument("metalsvd.svdvals: the output's shape does not match the input");
  if (s.dtype != a.dtype) throw InvalidArgument("metalsvd.svdvals: S must have the input's dtype");
}

}  // namespace

uint64_t svd_values_workspace_bytes(Backend& backend, const MatrixBatch& a,
                                    const SvdTuning& tuning) {
  check_supported(backend, a);
  if (is_empty(a)) return 0;
  return SvdWalk(backend, values_problem(a), VectorBatch{}, tuning, true).workspace_bytes();
}

void svd_values(Backend& backend, const MatrixBatch& a, const VectorBatch& s, Buffer info,
                Buffer workspace, const SvdTuning& tuning) {
  check_supported(backend, a);
  check_values_output(a, s);
  if (is_empty(a)) return;
  SvdWalk walk(backend, values_problem(a), s, tuning, true);
  const uint64_t needed = walk.workspace_bytes();
  if (needed > 0 && workspace.handle == nullptr)
    throw InvalidArgument("metalsvd.svdvals: this problem needs a workspace of " +
                          std::to_string(needed) + " bytes");
  walk.enqueue(workspace, info);
}

}  // namespace metalsvd
