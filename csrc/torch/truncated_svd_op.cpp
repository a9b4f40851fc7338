// metalsvd::randomized_svd_ex and metalsvd::lanczos_svd_ex: the truncated SVDs as PyTorch
// operators. The random draws happen here (at::randn with the caller's generator on A's
// device), so the core needs no random generator and results repeat for a seeded generator.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <tuple>
#include <vector>

#include "core/lanczos_svd.h"
#include "core/randomized_svd.h"
#include "kernels/svd_status.h"
#include "torch/device_backend.h"
#include "torch/error_translation.h"
#include "torch/tensor_views.h"

namespace metalsvd {
namespace {

// A (B, m, n) view of A's batch, its batch shape, and the outputs' tensors.
struct TruncatedProblem {
  std::vector<int64_t> batch_shape;
  int64_t batch = 0, m = 0, n = 0, k = 0;
  at::Tensor a3, u, s, v, info;
  at::ScalarType compute = at::kFloat;
};

TruncatedProblem make_problem(const at::Tensor& a, int64_t k, const char* function) {
  TORCH_CHECK_VALUE(a.dim() >= 2, function,
                    ": expected a matrix or a batch of matrices (at least 2 dimensions), got ",
                    a.dim(), " dimension(s)");
  scalar_type_of(a, function);
  TruncatedProblem p;
  p.m = a.size(-2);
  p.n = a.size(-1);
  const int64_t min_mn = std::min(p.m, p.n);
  TORCH_CHECK_VALUE(k >= 1 && k < min_mn, function,
                    ": k must be at least 1 and less than min(m, n) = ", min_mn, ", got ", k,
                    " (for all singular values use metalsvd.svd)");
  p.k = k;
  p.batch_shape.assign(a.sizes().begin(), a.sizes().end() - 2);
  p.batch = c10::multiply_integers(p.batch_shape);
  p.a3 = a.reshape({p.batch, p.m, p.n});
  const at::TensorOptions options = a.options();
  p.u = at::empty({p.batch, p.m, k}, options);
  p.s = at::empty({p.batch, k}, options);
  p.v = at::empty({p.batch, p.n, k}, options);
  p.info = at::ones({p.batch}, options.dtype(at::kInt));
  p.compute = a.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  return p;
}

at::Tensor workspace_for(const at::Tensor& a, uint64_t bytes) {
  if (bytes == 0) return {};
  return at::empty({static_cast<int64_t>(bytes)}, a.options().dtype(at::kByte));
}

Buffer buffer_or_null(const at::Tensor& t) { return t.defined() ? buffer_view(t) : Buffer{}; }

TruncatedSvdOutputs outputs_of(const TruncatedProblem& p) {
  TruncatedSvdOutputs out;
  out.u = matrix_batch_view(p.u);
  out.s = vector_batch_view(p.s);
  out.v = matrix_batch_view(p.v);
  out.info = buffer_view(p.info);
  return out;
}

std::vector<int64_t> with(std::vector<int64_t> shape, std::initializer_list<int64_t> tail) {
  shape.insert(shape.end(), tail);
  return shape;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> randomized_svd_ex(
    const at::Tensor& a, int64_t k, int64_t n_iter, int64_t oversample,
    std::optional<at::Generator> generator) {
  constexpr const char* kFunction = "metalsvd.randomized_svd";
  TORCH_CHECK_VALUE(n_iter >= 0, kFunction, ": n_iter must be >= 0, got ", n_iter);
  TORCH_CHECK_VALUE(oversample >= 0, kFunction, ": oversample must be >= 0, got ", oversample);
  TruncatedProblem p = make_problem(a, k, kFunction);
  const int64_t min_mn = std::min(p.m, p.n);
  const int64_t l = std::min(k + std::min<int64_t>(oversample, min_mn), min_mn);
  // Omega is min(m, n) x l, row-major as torch.svd_lowrank draws it (the same values for the
  // same seed), and GEMM reads it in that layout.
  const at::Tensor omega = at::randn({p.batch, min_mn, l}, generator, a.options().dtype(p.compute));
  translating_errors([&] {
    std::unique_ptr<Backend> backend = backend_for(a, kFunction);
    const MatrixBatch in = matrix_batch_view(p.a3);
    const uint32_t k32 = static_cast<uint32_t>(k);
    const uint32_t l32 = static_cast<uint32_t>(l);
    const at::Tensor workspace =
        workspace_for(a, randomized_svd_workspace_bytes(*backend, in, k32, l32));
    randomized_svd(*backend, in, k32, static_cast<uint32_t>(n_iter), matrix_batch_view(omega),
                   outputs_of(p), buffer_or_null(workspace));
  });
  return {p.u.view(with(p.batch_shape, {p.m, k})), p.s.view(with(p.batch_shape, {k})),
          p.v.view(with(p.batch_shape, {p.n, k})), p.info.view(p.batch_shape)};
}

// Runs restart cycles until every matrix has converged (or met non-finite input) or n_iter
// restarts are done. Deciding that needs `info` on the host: one synchronisation per restart.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> lanczos_svd_ex(
    const at::Tensor& a, int64_t k, int64_t n_iter, std::optional<double> tol,
    std::optional<at::Generator> generator) {
  constexpr const char* kFunction = "metalsvd.lanczos_svd";
  TORCH_CHECK_VALUE(n_iter >= 0, kFunction, ": n_iter must be >= 0, got ", n_iter);
  TruncatedProblem p = make_problem(a, k, kFunction);
  const bool fp64 = p.compute == at::kDouble;
  // Default: sqrt(eps) of the compute type; singular values then converge to about tol^2.
  const double tolerance =
      tol.value_or(fp64 ? std::sqrt(std::numeric_limits<double>::epsilon())
                        : std::sqrt(static_cast<double>(std::numeric_limits<float>::epsilon())));
  TORCH_CHECK_VALUE(tolerance > 0 && tolerance < 1, kFunction, ": tol must be in (0, 1), got ",
                    tolerance);
  at::Tensor residuals = at::empty({p.batch, k}, a.options());
  const LanczosPlan plan = plan_lanczos(static_cast<uint32_t>(p.m), static_cast<uint32_t>(p.n),
                                        static_cast<uint32_t>(k));
  const at::Tensor random = at::randn({p.batch, lanczos_random_columns(plan), std::max(p.m, p.n)},
                                      generator, a.options().dtype(p.compute))
                                .transpose(1, 2);
  translating_errors([&] {
    std::unique_ptr<Backend> backend = backend_for(a, kFunction);
    LanczosOutputs out;
    out.svd = outputs_of(p);
    out.residuals = vector_batch_view(residuals);
    LanczosSvd solver(*backend, matrix_batch_view(p.a3), static_cast<uint32_t>(k), out,
                      matrix_batch_view(random), static_cast<float>(tolerance));
    const at::Tensor workspace = workspace_for(a, solver.workspace_bytes());
    const Buffer w = buffer_or_null(workspace);
    solver.start(w);
    for (int64_t cycle = 0; cycle <= n_iter; ++cycle) {
      solver.cycle(w, cycle == 0);
      if (cycle < n_iter &&
          !p.info.eq(static_cast<int>(kernels::kSvdNotConverged)).any().item<bool>())
        break;
    }
    solver.finish(w);
  });
  return {p.u.view(with(p.batch_shape, {p.m, k})), p.s.view(with(p.batch_shape, {k})),
          p.v.view(with(p.batch_shape, {p.n, k})), residuals.view(with(p.batch_shape, {k})),
          p.info.view(p.batch_shape)};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(metalsvd, m) {
  m.def(
      "randomized_svd_ex(Tensor A, int k, int n_iter=2, int oversample=10, Generator? "
      "generator=None) -> (Tensor U, Tensor S, Tensor V, Tensor info)");
  m.def(
      "lanczos_svd_ex(Tensor A, int k, int n_iter=30, float? tol=None, Generator? "
      "generator=None) -> (Tensor U, Tensor S, Tensor V, Tensor residuals, Tensor info)");
}

TORCH_LIBRARY_IMPL(metalsvd, CPU, m) {
  m.impl("randomized_svd_ex", &randomized_svd_ex);
  m.impl("lanczos_svd_ex", &lanczos_svd_ex);
}

#ifdef METALSVD_WITH_CUDA
TORCH_LIBRARY_IMPL(metalsvd, CUDA, m) {
  m.impl("randomized_svd_ex", &randomized_svd_ex);
  m.impl("lanczos_svd_ex", &lanczos_svd_ex);
}
#endif

#ifdef METALSVD_WITH_METAL
TORCH_LIBRARY_IMPL(metalsvd, MPS, m) {
  m.impl("randomized_svd_ex", &randomized_svd_ex);
  m.impl("lanczos_svd_ex", &lanczos_svd_ex);
}
#endif

}  // namespace metalsvd
