// Runs metalsvd::svd on the cpu backend (threadgroup emulator) for the C++ tests, and the
// accuracy checks they share, against Eigen in double precision.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "core/svd.h"
#include "kernels/svd_status.h"
#include "test_matrices.h"

namespace metalsvd {
namespace testing {

// Accuracy contract for fp32 (docs/architecture.md): sigma error relative to sigma_max,
// orthogonality, reconstruction.
constexpr double kSigmaTolF32 = 2e-6;
constexpr double kOrthogonalityTolF32 = 1e-5;
constexpr double kReconstructionTolF32 = 5e-6;
constexpr double kTolF64 = 1e-12;

template <typename T>
struct Storage;
template <>
struct Storage<float> {
  static constexpr ScalarType type = ScalarType::f32;
  static float from(double x) { return static_cast<float>(x); }
  static double to(float x) { return x; }
};
template <>
struct Storage<double> {
  static constexpr ScalarType type = ScalarType::f64;
  static double from(double x) { return x; }
  static double to(double x) { return x; }
};
template <>
struct Storage<kernels::half_t> {
  static constexpr ScalarType type = ScalarType::f16;
  static kernels::half_t from(double x) { return kernels::float_to_half(static_cast<float>(x)); }
  static double to(kernels::half_t x) { return kernels::half_to_float(x); }
};
template <>
struct Storage<kernels::bfloat16_t> {
  static constexpr ScalarType type = ScalarType::bf16;
  static kernels::bfloat16_t from(double x) {
    return kernels::float_to_bfloat16(static_cast<float>(x));
  }
  static double to(kernels::bfloat16_t x) { return kernels::bfloat16_to_float(x); }
};

struct SvdRun {
  MatrixXd a;  // the input as the kernel saw it (after rounding to T)
  MatrixXd u;
  VectorXd s;
  MatrixXd v;
  int32_t info;
};

inline MatrixBatch row_major_batch(void* data, ScalarType type, uint32_t batch, uint32_t rows,
                                   uint32_t cols) {
  MatrixBatch m;
  m.data.handle = data;
  m.dtype = type;
  m.batch = batch;
  m.rows = rows;
  m.cols = cols;
  m.batch_stride = static_cast<int64_t>(rows) * cols;
  m.row_stride = cols;
  m.col_stride = 1;
  return m;
}

// Factors every matrix (all of one shape) in one batched launch on `backend`, as PyTorch lays
// them out.
template <typename T>
inline std::vector<SvdRun> run_svd_on(Backend& backend, const std::vector<MatrixXd>& inputs,
                                      const SvdTuning& tuning = {}) {
  using S = Storage<T>;
  const uint32_t batch = static_cast<uint32_t>(inputs.size());
  const uint32_t m = static_cast<uint32_t>(inputs[0].rows());
  const uint32_t n = static_cast<uint32_t>(inputs[0].cols());
  const uint32_t k = std::min(m, n);
  std::vector<T> a(static_cast<size_t>(batch) * m * n), u(static_cast<size_t>(batch) * m * k),
      s(static_cast<size_t>(batch) * k), v(static_cast<size_t>(batch) * n * k);
  std::vector<int32_t> info(batch, -1);
  for (uint32_t b = 0; b < batch; ++b)
    for (uint32_t i = 0; i < m; ++i)
      for (uint32_t j = 0; j < n; ++j) a[(b * m + i) * n + j] = S::from(inputs[b](i, j));

  const MatrixBatch in = row_major_batch(a.data(), S::type, batch, m, n);
  SvdOutputs out;
  out.u = row_major_batch(u.data(), S::type, batch, m, k);
  out.v = row_major_batch(v.data(), S::type, batch, n, k);
  out.s.data.handle = s.data();
  out.s.dtype = S::type;
  out.s.batch = batch;
  out.s.length = k;
  out.s.batch_stride = k;
  out.s.stride = 1;
  out.info.handle = info.data();
  std::vector<unsigned char> workspace(svd_workspace_bytes(backend, in, false, tuning) + 1);
  svd(backend, in, false, out, Buffer{workspace.data(), 0}, tuning);

  std::vector<SvdRun> runs(batch);
  for (uint32_t b = 0; b < batch; ++b) {
    SvdRun& r = runs[b];
    r.a.resize(m, n);
    r.u.resize(m, k);
    r.v.resize(n, k);
    r.s.resize(k);
    for (uint32_t i = 0; i < m; ++i)
      for (uint32_t j = 0; j < n; ++j) r.a(i, j) = S::to(a[(b * m + i) * n + j]);
    for (uint32_t i = 0; i < m; ++i)
      for (uint32_t j = 0; j < k; ++j) r.u(i, j) = S::to(u[(b * m + i) * k + j]);
    for (uint32_t i = 0; i < n; ++i)
      for (uint32_t j = 0; j < k; ++j) r.v(i, j) = S::to(v[(b * n + i) * k + j]);
    for (uint32_t j = 0; j < k; ++j) r.s(j) = S::to(s[b * k + j]);
    r.info = info[b];
  }
  return runs;
}

struct ValuesRun {
  MatrixXd a;  // the input as the kernel saw it
  VectorXd s;
  int32_t info;
};

// The singular values alone (svd_values) of every matrix, as run_svd_on lays them out.
template <typename T>
inline std::vector<ValuesRun> run_svd_values_on(Backend& backend,
                                                const std::vector<MatrixXd>& inputs,
                                                const SvdTuning& tuning = {}) {
  using S = Storage<T>;
  const uint32_t batch = static_cast<uint32_t>(inputs.size());
  const uint32_t m = static_cast<uint32_t>(inputs[0].rows());
  const uint32_t n = static_cast<uint32_t>(inputs[0].cols());
  const uint32_t k = std::min(m, n);
  std::vector<T> a(static_cast<size_t>(batch) * m * n), s(static_cast<size_t>(batch) * k);
  std::vector<int32_t> info(batch, -1);
  for (uint32_t b = 0; b < batch; ++b)
    for (uint32_t i = 0; i < m; ++i)
      for (uint32_t j = 0; j < n; ++j) a[(b * m + i) * n + j] = S::from(inputs[b](i, j));
  const MatrixBatch in = row_major_batch(a.data(), S::type, batch, m, n);
  VectorBatch out;
  out.data.handle = s.data();
  out.dtype = S::type;
  out.batch = batch;
  out.length = k;
  out.batch_stride = k;
  out.stride = 1;
  std::vector<unsigned char> workspace(svd_values_workspace_bytes(backend, in, tuning) + 1);
  svd_values(backend, in, out, Buffer{info.data(), 0}, Buffer{workspace.data(), 0}, tuning);
  std::vector<ValuesRun> runs(batch);
  for (uint32_t b = 0; b < batch; ++b) {
    runs[b].a.resize(m, n);
    for (uint32_t i = 0; i < m; ++i)
      for (uint32_t j = 0; j < n; ++j) runs[b].a(i, j) = S::to(a[(b * m + i) * n + j]);
    runs[b].s.resize(k);
    for (uint32_t j = 0; j < k; ++j) runs[b].s(j) = S::to(s[b * k + j]);
    runs[b].info = info[b];
  }
  return runs;
}

// The same on the cpu emulator under schedule `seed` with `threadgroup_bytes` a group.
template <typename T>
inline std::vector<SvdRun> run_svd(const std::vector<MatrixXd>& inputs, uint64_t seed,
                                   uint32_t threadgroup_bytes = 32 * 1024,
                                   const SvdTuning& tuning = {}) {
  emu::EmulatorOptions options;
  options.schedule_seed = seed;
  options.threadgroup_memory_bytes = threadgroup_bytes;
  CpuBackend backend(options);
  return run_svd_on<T>(backend, inputs, tuning);
}

inline void expect_accurate(const SvdRun& run, double sigma_tol, double orthogonality_tol,
                            double reconstruction_tol, const std::string& what) {
  const SvdErrors e = svd_errors(run.a, run.u, run.s, run.v);
  EXPECT_EQ(run.info, kernels::kSvdConverged) << what;
  EXPECT_TRUE(e.sorted) << what;
  EXPECT_LE(e.sigma, sigma_tol) << what;
  EXPECT_LE(e.u_orthogonality, orthogonality_tol) << what;
  EXPECT_LE(e.v_orthogonality, orthogonality_tol) << what;
  EXPECT_LE(e.reconstruction, reconstruction_tol) << what;
}

// A matrix that held inf or nan: info 2 and nan in every factor.
inline void expect_nan_factors(const SvdRun& run, const std::string& what) {
  EXPECT_EQ(run.info, kernels::kSvdNonFiniteInput) << what;
  EXPECT_TRUE(run.s.array().isNaN().all()) << what;
  EXPECT_TRUE(run.u.array().isNaN().all()) << what;
  EXPECT_TRUE(run.v.array().isNaN().all()) << what;
}

inline void expect_fp32_contract(const SvdRun& run, const std::string& what) {
  expect_accurate(run, kSigmaTolF32, kOrthogonalityTolF32, kReconstructionTolF32, what);
}

}  // namespace testing
}  // namespace metalsvd
