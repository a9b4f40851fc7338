// metalsvd::svd_ex and svdvals_ex: the full SVD and the singular values alone as PyTorch
// operators, for every backend this build has.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "core/errors.h"
#include "core/svd.h"
#include "torch/device_backend.h"
#include "torch/error_translation.h"
#include "torch/tensor_views.h"

namespace metalsvd {
namespace {

constexpr const char* kFunction = "metalsvd.svd";

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> svd_ex_tuned(const at::Tensor& a,
                                                                        bool full_matrices,
                                                                        const SvdTuning& tuning) {
  TORCH_CHECK_VALUE(a.dim() >= 2, kFunction,
                    ": expected a matrix or a batch of matrices (at least 2 dimensions), got ",
                    a.dim(), " dimension(s)");
  scalar_type_of(a, kFunction);
  // bfloat16 where the device has no bfloat16 kernels (Metal before macOS 14): through fp32,
  // which is what the kernels compute in anyway.
  if (a.scalar_type() == at::kBFloat16 && !backend_for(a, kFunction)->limits().supports_bfloat16) {
    const auto r = svd_ex_tuned(a.to(at::kFloat), full_matrices, tuning);
    return {std::get<0>(r).to(at::kBFloat16), std::get<1>(r).to(at::kBFloat16),
            std::get<2>(r).to(at::kBFloat16), std::get<3>(r)};
  }
  const int64_t m = a.size(-2);
  const int64_t n = a.size(-1);
  const int64_t k = std::min(m, n);
  const std::vector<int64_t> batch_shape(a.sizes().begin(), a.sizes().end() - 2);
  const int64_t batch = c10::multiply_integers(batch_shape);

  const at::Tensor a3 = a.reshape({batch, m, n});
  const at::TensorOptions options = a.options();
  const int64_t u_cols = full_matrices ? m : k;
  const int64_t v_cols = full_matrices ? n : k;
  at::Tensor u = at::empty({batch, m, u_cols}, options);
  at::Tensor s = at::empty({batch, k}, options);
  at::Tensor v = at::empty({batch, n, v_cols}, options);
  at::Tensor info = at::zeros({batch}, options.dtype(at::kInt));

  translating_errors([&] {
    std::unique_ptr<Backend> backend = backend_for(a, kFunction);
    const MatrixBatch in = matrix_batch_view(a3);
    SvdOutputs out;
    out.u = matrix_batch_view(u);
    out.s = vector_batch_view(s);
    out.v = matrix_batch_view(v);
    out.info = buffer_view(info);
    const uint64_t workspace_bytes = svd_workspace_bytes(*backend, in, full_matrices, tuning);
    at::Tensor workspace;
    Buffer workspace_buffer;
    if (workspace_bytes > 0) {
      // From the framework's caching allocator, stream-ordered like the launch.
      workspace = at::empty({static_cast<int64_t>(workspace_bytes)}, options.dtype(at::kByte));
      workspace_buffer = buffer_view(workspace);
    }
    svd(*backend, in, full_matrices, out, workspace_buffer, tuning);
  });

  std::vector<int64_t> u_shape = batch_shape, s_shape = batch_shape, v_shape = batch_shape;
  u_shape.insert(u_shape.end(), {m, u_cols});
  s_shape.push_back(k);
  v_shape.insert(v_shape.end(), {n, v_cols});
  return {u.view(u_shape), s.view(s_shape), v.view(v_shape), info.view(batch_shape)};
}

// The singular values alone (metalsvd::svdvals_ex): what torch.linalg.svdvals and every
// compute_uv=False call need, without forming U or V where the algorithm allows it.
std::tuple<at::Tensor, at::Tensor> svdvals_ex_tuned(const at::Tensor& a, const SvdTuning& tuning) {
  constexpr const char* kValues = "metalsvd.svdvals";
  TORCH_CHECK_VALUE(a.dim() >= 2, kValues,
                    ": expected a matrix or a batch of matrices (at least 2 dimensions), got ",
                    a.dim(), " dimension(s)");
  scalar_type_of(a, kValues);
  if (a.scalar_type() == at::kBFloat16 && !backend_for(a, kValues)->limits().supports_bfloat16) {
    const auto r = svdvals_ex_tuned(a.to(at::kFloat), tuning);
    return {std::get<0>(r).to(at::kBFloat16), std::get<1>(r)};
  }
  const int64_t m = a.size(-2);
  const int64_t n = a.size(-1);
  const std::vector<int64_t> batch_shape(a.sizes().begin(), a.sizes().end() - 2);
  const int64_t batch = c10::multiply_integers(batch_shape);
  const at::Tensor a3 = a.reshape({batch, m, n});
  at::Tensor s = at::empty({batch, std::min(m, n)}, a.options());
  at::Tensor info = at::zeros({batch}, a.options().dtype(at::kInt));
  translating_errors([&] {
    std::unique_ptr<Backend> backend = backend_for(a, kValues);
    const MatrixBatch in = matrix_batch_view(a3);
    const uint64_t workspace_bytes = svd_values_workspace_bytes(*backend, in, tuning);
    at::Tensor workspace;
    Buffer workspace_buffer;
    if (workspace_bytes > 0) {
      workspace = at::empty({static_cast<int64_t>(workspace_bytes)}, a.options().dtype(at::kByte));
      workspace_buffer = buffer_view(workspace);
    }
    svd_values(*backend, in, vector_batch_view(s), buffer_view(info), workspace_buffer, tuning);
  });
  std::vector<int64_t> s_shape = batch_shape;
  s_shape.push_back(std::min(m, n));
  return {s.view(s_shape), info.view(batch_shape)};
}

SvdAlgorithm algorithm_named(c10::string_view name) {
  if (name == "auto") return SvdAlgorithm::automatic;
  if (name == "jacobi") return SvdAlgorithm::fused_jacobi;
  if (name == "blocked") return SvdAlgorithm::blocked_jacobi;
  if (name == "qr") return SvdAlgorithm::qr_jacobi;
  if (name == "dc") return SvdAlgorithm::bidiagonal_dc;
  TORCH_CHECK_VALUE(false, kFunction,
                    ": algorithm must be 'auto', 'jacobi', 'blocked', 'qr' or 'dc', got '", name,
                    "'");
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> svd_ex(const at::Tensor& a,
                                                                  bool full_matrices,
                                                                  c10::string_view algorithm) {
  SvdTuning tuning;
  tuning.algorithm = algorithm_named(algorithm);
  return svd_ex_tuned(a, full_matrices, tuning);
}

std::tuple<at::Tensor, at::Tensor> svdvals_ex(const at::Tensor& a, c10::string_view algorithm) {
  SvdTuning tuning;
  tuning.algorithm = algorithm_named(algorithm);
  return svdvals_ex_tuned(a, tuning);
}

// For bench/tune_jacobi.py: the same operator with the plan's choices set by hand.
// jacobi_sweeps: 0 the plan's choice, 1 pairwise, 2 warp blocks; block, inner_sweeps and
// max_sweeps: the blocked Jacobi's block width, inner and outer sweeps; eigen_threads and
// row_tile: its pair eigensolver's threads and its rotation's rows per group (0: the plan's);
// gemm_sweeps: its leading sweeps run as backend GEMMs; refine_sigma: 1 its singular values
// refined in float64, 0 not (negative: the plan's); polish_sweeps: its sweeps after convergence
// with the tight pair test (negative: the plan's); dc_gemm_rows: the divide and conquer's
// nodes from this many rows form their vectors with the backend's GEMM (0: the plan's);
// dc_threads: threads of the bidiagonalisation's GEMV kernels (0: the plan's); dc_groups: the
// groups its launches should have at least (0: the plan's); dc_tail: the trailing matrix is
// finished by one group a matrix once it has at most dc_tail^2 elements (0: never, -1: the
// plan's); qr_rows: the most rows of a tile of the Householder QR's panels where they fall back
// to the TSQR, also the two-stage reduction's (0: the plan's, the most that fit the device's
// threadgroup memory); two_stage: 1
// the divide and conquer after the two-stage bidiagonalisation, 0 after the one-stage one (-1:
// the plan's); dc_resident: 1 the one-stage bidiagonalisation in one launch with the matrix in
// registers where the backend can run it (kernels/bidiagonal_resident.h), 0 never, -1 the
// plan's.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> svd_ex_with_tuning(
    const at::Tensor& a, bool full_matrices, int64_t jacobi_sweeps, int64_t jacobi_rows_per_lane,
    c10::string_view algorithm, int64_t block, int64_t inner_sweeps, int64_t max_sweeps,
    int64_t eigen_threads, int64_t row_tile, int64_t gemm_sweeps, int64_t refine_sigma,
    int64_t polish_sweeps, int64_t dc_gemm_rows, int64_t dc_threads, int64_t dc_groups,
    int64_t dc_tail, int64_t qr_rows, int64_t two_stage, int64_t dc_resident) {
  TORCH_CHECK_VALUE(dc_gemm_rows >= 0 && dc_gemm_rows <= (int64_t{1} << 30),
                    "metalsvd: dc_gemm_rows must be in [0, 2^30] (0: the plan's)");
  TORCH_CHECK_VALUE(dc_threads == 0 || dc_threads == 256 || dc_threads == 512 || dc_threads == 1024,
                    "metalsvd: dc_threads must be 256, 512 or 1024 (0: the plan's)");
  TORCH_CHECK_VALUE(dc_groups >= 0 && dc_groups <= (int64_t{1} << 20),
                    "metalsvd: dc_groups must be in [0, 2^20] (0: the plan's)");
  TORCH_CHECK_VALUE(dc_tail >= -1 && dc_tail <= 1024,
                    "metalsvd: dc_tail must be in [0, 1024] (-1: the plan's)");
  TORCH_CHECK_VALUE(qr_rows == 0 || (qr_rows >= 64 && qr_rows <= 1024),
                    "metalsvd: qr_rows must be in [64, 1024] (0: the plan's)");
  TORCH_CHECK_VALUE(two_stage >= -1 && two_stage <= 1,
                    "metalsvd: two_stage must be 0, 1 or -1 (the plan's)");
  TORCH_CHECK_VALUE(dc_resident >= -1 && dc_resident <= 1,
                    "metalsvd: dc_resident must be 0, 1 or -1 (the plan's)");
  TORCH_CHECK_VALUE(block >= 0 && block <= 32 && block % 2 == 0,
                    "metalsvd: block must be even and at most 32 (0: the plan's choice)");
  TORCH_CHECK_VALUE(inner_sweeps >= 0 && inner_sweeps <= 16,
                    "metalsvd: inner_sweeps must be in [0, 16]");
  TORCH_CHECK_VALUE(max_sweeps >= 0 && max_sweeps <= 100,
                    "metalsvd: max_sweeps must be in [0, 100]");
  TORCH_CHECK_VALUE(
      eigen_threads >= 0 && eigen_threads <= 1024 && eigen_threads % 32 == 0,
      "metalsvd: eigen_threads must be a multiple of 32, at most 1024 (0: the plan's)");
  TORCH_CHECK_VALUE(row_tile >= 0 && row_tile <= 256 && row_tile % 4 == 0,
                    "metalsvd: row_tile must be a multiple of 4, at most 256 (0: the plan's)");
  TORCH_CHECK_VALUE(gemm_sweeps >= -1 && gemm_sweeps <= 100,
                    "metalsvd: gemm_sweeps must be in [0, 100] (-1: the plan's)");
  TORCH_CHECK_VALUE(refine_sigma >= -1 && refine_sigma <= 1,
                    "metalsvd: refine_sigma must be 0 (off), 1 (on) or -1 (the plan's)");
  TORCH_CHECK_VALUE(polish_sweeps >= -1 && polish_sweeps <= 8,
                    "metalsvd: polish_sweeps must be in [0, 8] (-1: the plan's)");
  TORCH_CHECK_VALUE(jacobi_sweeps >= 0 && jacobi_sweeps <= 2,
                    "metalsvd: jacobi_sweeps must be 0 (plan), 1 (pairwise) or 2 (warp blocks)");
  TORCH_CHECK_VALUE(jacobi_rows_per_lane >= 0 && jacobi_rows_per_lane <= 1024,
                    "metalsvd: jacobi_rows_per_lane must be in [0, 1024]");
  SvdTuning tuning;
  if (jacobi_sweeps != 0)
    tuning.jacobi.sweeps = jacobi_sweeps == 1 ? JacobiSweeps::pairwise : JacobiSweeps::warp_blocks;
  tuning.jacobi.rows_per_lane = static_cast<uint32_t>(jacobi_rows_per_lane);
  tuning.algorithm = algorithm_named(algorithm);
  tuning.block.block = static_cast<uint32_t>(block);
  tuning.block.inner_sweeps = static_cast<uint32_t>(inner_sweeps);
  tuning.block.max_sweeps = static_cast<uint32_t>(max_sweeps);
  tuning.block.eigen_threads = static_cast<uint32_t>(eigen_threads);
  tuning.block.row_tile = static_cast<uint32_t>(row_tile);
  tuning.block.gemm_sweeps = static_cast<int32_t>(gemm_sweeps);
  tuning.block.refine_sigma = static_cast<int32_t>(refine_sigma);
  tuning.block.polish_sweeps = static_cast<int32_t>(polish_sweeps);
  tuning.bidiagonal.gemm_rows = static_cast<uint32_t>(dc_gemm_rows);
  tuning.bidiagonal.reduction_threads = static_cast<uint32_t>(dc_threads);
  tuning.bidiagonal.reduction_groups = static_cast<uint32_t>(dc_groups);
  tuning.bidiagonal.reduction_tail = static_cast<int32_t>(dc_tail);
  tuning.qr_panel_rows = static_cast<uint32_t>(qr_rows);
  tuning.bidiagonal.tile_rows = static_cast<uint32_t>(qr_rows);
  tuning.bidiagonal.two_stage = static_cast<int32_t>(two_stage);
  tuning.bidiagonal.reduction_resident = static_cast<int32_t>(dc_resident);
  return svd_ex_tuned(a, full_matrices, tuning);
}

// The values alone with the plan's knobs: two_stage 1 takes them through the two-stage
// bidiagonalisation, 0 through the one-stage one, -1 the plan's; qr_rows: the most rows of a tile
// of the Householder QR's panels where they fall back to the TSQR, also the two-stage
// reduction's (0: the plan's).
std::tuple<at::Tensor, at::Tensor> svdvals_ex_with_tuning(const at::Tensor& a,
                                                          c10::string_view algorithm,
                                                          int64_t two_stage, int64_t qr_rows) {
  TORCH_CHECK_VALUE(two_stage >= -1 && two_stage <= 1,
                    "metalsvd: two_stage must be 0, 1 or -1 (the plan's)");
  TORCH_CHECK_VALUE(qr_rows == 0 || (qr_rows >= 64 && qr_rows <= 1024),
                    "metalsvd: qr_rows must be in [64, 1024] (0: the plan's)");
  SvdTuning tuning;
  tuning.algorithm = algorithm_named(algorithm);
  tuning.bidiagonal.two_stage = static_cast<int32_t>(two_stage);
  tuning.bidiagonal.tile_rows = static_cast<uint32_t>(qr_rows);
  tuning.qr_panel_rows = static_cast<uint32_t>(qr_rows);
  return svdvals_ex_tuned(a, tuning);
}

void set_emulator(int64_t schedule_seed, int64_t threadgroup_memory_bytes, int64_t host_threads) {
  TORCH_CHECK_VALUE(schedule_seed >= 0, "metalsvd: the schedule seed must be >= 0");
  TORCH_CHECK_VALUE(threadgroup_memory_bytes > 0 && threadgroup_memory_bytes <= (1 << 30),
                    "metalsvd: threadgroup memory must be between 1 byte and 1 GiB");
  TORCH_CHECK_VALUE(host_threads >= 0, "metalsvd: host_threads must be >= 0");
  emu::EmulatorOptions options;
  options.schedule_seed = static_cast<uint64_t>(schedule_seed);
  options.threadgroup_memory_bytes = static_cast<uint32_t>(threadgroup_memory_bytes);
  options.host_threads = static_cast<uint32_t>(host_threads);
  set_emulator_options(options);
}

std::tuple<int64_t, int64_t, int64_t> get_emulator() {
  const emu::EmulatorOptions options = emulator_options();
  return {static_cast<int64_t>(options.schedule_seed),
          static_cast<int64_t>(options.threadgroup_memory_bytes),
          static_cast<int64_t>(options.host_threads)};
}

// Device types this build has a backend for.
std::vector<std::string> available_backends() {
  std::vector<std::string> names = {"cpu"};
#ifdef METALSVD_WITH_CUDA
  names.push_back("cuda");
#endif
#ifdef METALSVD_WITH_METAL
  names.push_back("mps");
#endif
  return names;
}

}  // namespace

TORCH_LIBRARY(metalsvd, m) {
  m.def(
      "svd_ex(Tensor A, bool full_matrices=False, str algorithm=\"auto\") -> (Tensor U, Tensor S, "
      "Tensor V, Tensor info)");
  m.def("svdvals_ex(Tensor A, str algorithm=\"auto\") -> (Tensor S, Tensor info)");
  m.def(
      "_svd_ex_with_tuning(Tensor A, bool full_matrices, int jacobi_sweeps, int "
      "jacobi_rows_per_lane, str algorithm=\"auto\", int block=0, int inner_sweeps=0, int "
      "max_sweeps=0, int eigen_threads=0, int row_tile=0, int gemm_sweeps=-1, int "
      "refine_sigma=-1, int polish_sweeps=-1, int dc_gemm_rows=0, int dc_threads=0, int "
      "dc_groups=0, int dc_tail=-1, int qr_rows=0, int two_stage=-1, int dc_resident=-1) -> "
      "(Tensor U, Tensor S, Tensor V, Tensor info)");
  m.def(
      "_svdvals_ex_with_tuning(Tensor A, str algorithm=\"auto\", int two_stage=-1, int "
      "qr_rows=0) -> (Tensor S, Tensor info)");
  m.def(
      "set_emulator_options(int schedule_seed, int threadgroup_memory_bytes, int host_threads) -> "
      "()",
      &set_emulator);
  m.def("emulator_options() -> (int, int, int)", &get_emulator);
  m.def("backends() -> str[]", &available_backends);
}

TORCH_LIBRARY_IMPL(metalsvd, CPU, m) {
  m.impl("svd_ex", &svd_ex);
  m.impl("svdvals_ex", &svdvals_ex);
  m.impl("_svd_ex_with_tuning", &svd_ex_with_tuning);
  m.impl("_svdvals_ex_with_tuning", &svdvals_ex_with_tuning);
}

#ifdef METALSVD_WITH_CUDA
TORCH_LIBRARY_IMPL(metalsvd, CUDA, m) {
  m.impl("svd_ex", &svd_ex);
  m.impl("svdvals_ex", &svdvals_ex);
  m.impl("_svd_ex_with_tuning", &svd_ex_with_tuning);
  m.impl("_svdvals_ex_with_tuning", &svdvals_ex_with_tuning);
}
#endif

#ifdef METALSVD_WITH_METAL
TORCH_LIBRARY_IMPL(metalsvd, MPS, m) {
  m.impl("svd_ex", &svd_ex);
  m.impl("svdvals_ex", &svdvals_ex);
  m.impl("_svd_ex_with_tuning", &svd_ex_with_tuning);
  m.impl("_svdvals_ex_with_tuning", &svdvals_ex_with_tuning);
}
#endif

}  // namespace metalsvd
