#include "core/svd.h"

#include <algorithm>
#include <string>

#include "core/errors.h"
#include "core/jacobi_small_plan.h"
#include "kernels/jacobi_small_params.h"

namespace metalsvd {
namespace {

std::string shape_text(uint32_t rows, uint32_t cols) {
  return std::to_string(rows) + "x" + std::to_string(cols);
}

void check_supported(const Backend& backend, const MatrixBatch& a, bool full_matrices) {
  const DeviceLimits& limits = backend.limits();
  if (a.dtype == ScalarType::f64 && !limits.supports_fp64)
    throw InvalidArgument(std::string("metalsvd.svd: float64 is not supported on the ") +
                          backend.name() + " device (it has no fp64 arithmetic)");
  if (full_matrices && a.rows != a.cols && a.rows > 0 && a.cols > 0)
    throw NotImplemented(
        "metalsvd.svd: full_matrices=True is implemented for square matrices "
        "only so far; got " +
        shape_text(a.rows, a.cols) + ". Use full_matrices=False.");
}

// The problem as the kernels solve it: tall, so wide inputs are transposed.
struct TallProblem {
  MatrixBatch a;
  const MatrixBatch* u;  // receives the tall problem's U
  const MatrixBatch* v;  // receives the tall problem's V
};

TallProblem make_tall(const MatrixBatch& a, const SvdOutputs& out) {
  if (a.rows >= a.cols) return {a, &out.u, &out.v};
  return {transposed(a), &out.v, &out.u};
}

JacobiSmallPlan plan_or_throw(const Backend& backend, const MatrixBatch& tall,
                              const SvdTuning& tuning) {
  std::optional<JacobiSmallPlan> plan = plan_jacobi_small(backend.limits(), tall.dtype, tall.batch,
                                                          tall.rows, tall.cols, tuning.jacobi);
  if (!plan) {
    const uint64_t needed = jacobi_small_threadgroup_bytes(tall.dtype, tall.rows, tall.cols, false);
    throw NotImplemented(
        "metalsvd.svd: a " + shape_text(tall.rows, tall.cols) + " " + user_type_name(tall.dtype) +
        " matrix needs " + std::to_string(needed) +
        " bytes of threadgroup memory in the fused Jacobi kernel, and the " + backend.name() +
        " device has " + std::to_string(backend.limits().threadgroup_memory_bytes) +
        "; larger matrices need the blocked algorithm, which is not implemented yet");
  }
  return *plan;
}

bool is_empty(const MatrixBatch& a) { return a.batch == 0 || a.rows == 0 || a.cols == 0; }

}  // namespace

uint64_t svd_workspace_bytes(const Backend& backend, const MatrixBatch& a, bool full_matrices,
                             const SvdTuning& tuning) {
  check_supported(backend, a, full_matrices);
  if (is_empty(a)) return 0;
  const MatrixBatch tall = a.rows >= a.cols ? a : transposed(a);
  return plan_or_throw(backend, tall, tuning).workspace_bytes;
}

void svd(Backend& backend, const MatrixBatch& a, bool full_matrices, const SvdOutputs& out,
         Buffer workspace, const SvdTuning& tuning) {
  check_supported(backend, a, full_matrices);
  const uint32_t k = std::min(a.rows, a.cols);
  const uint32_t u_cols = full_matrices ? a.rows : k;
  const uint32_t v_cols = full_matrices ? a.cols : k;
  if (out.u.rows != a.rows || out.u.cols != u_cols || out.v.rows != a.cols ||
      out.v.cols != v_cols || out.s.length != k || out.u.batch != a.batch ||
      out.v.batch != a.batch || out.s.batch != a.batch)
    throw InvalidArgument("metalsvd.svd: output shapes do not match the input");
  if (out.u.dtype != a.dtype || out.v.dtype != a.dtype || out.s.dtype != a.dtype)
    throw InvalidArgument("metalsvd.svd: outputs must have the input's dtype");
  if (is_empty(a)) return;

  const TallProblem problem = make_tall(a, out);
  const MatrixBatch& tall = problem.a;
  const JacobiSmallPlan plan = plan_or_throw(backend, tall, tuning);

  kernels::JacobiSmallParams params{};
  params.in_batch_stride = tall.batch_stride;
  params.in_row_stride = tall.row_stride;
  params.in_col_stride = tall.col_stride;
  params.u_batch_stride = problem.u->batch_stride;
  params.u_row_stride = problem.u->row_stride;
  params.u_col_stride = problem.u->col_stride;
  params.v_batch_stride = problem.v->batch_stride;
  params.v_row_stride = problem.v->row_stride;
  params.v_col_stride = problem.v->col_stride;
  params.s_batch_stride = out.s.batch_stride;
  params.s_stride = out.s.stride;
  params.batch = tall.batch;
  params.rows = tall.rows;
  params.cols = tall.cols;
  params.threads_per_pair = plan.threads_per_pair;
  params.max_sweeps = kMaxJacobiSweeps;
  params.threads = plan.threads;

  KernelLaunch launch;
  launch.name = plan.kernel;
  launch.groups = tall.batch;
  launch.threads_per_group = plan.threads;
  launch.threadgroup_memory_bytes = plan.threadgroup_memory_bytes;
  launch.params = &params;
  launch.params_size = sizeof params;
  launch.buffers = {tall.data, problem.u->data, out.s.data, problem.v->data, out.info};
  launch.num_buffers = 5;
  if (!plan.v_in_threadgroup) {
    if (workspace.handle == nullptr)
      throw InvalidArgument("metalsvd.svd: this problem needs a workspace of " +
                            std::to_string(plan.workspace_bytes) + " bytes");
    launch.buffers[5] = workspace;
    launch.num_buffers = 6;
  }
  backend.launch(launch);
}

}  // namespace metalsvd
