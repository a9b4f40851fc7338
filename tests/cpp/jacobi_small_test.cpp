// The SVD through the core and the cpu backend (threadgroup emulator), against Eigen in double
// precision, under several emulator schedules: the fused one-sided Jacobi kernel, and the
// blocked and QR-preconditioned paths.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/errors.h"
#include "svd_runner.h"

namespace metalsvd {
namespace {

using testing::expect_accurate;
using testing::expect_fp32_contract;
using testing::kOrthogonalityTolF32;
using testing::kReconstructionTolF32;
using testing::kSigmaTolF32;
using testing::kTolF64;
using testing::MatrixXd;
using testing::run_svd;
using testing::SvdErrors;
using testing::SvdRun;
using testing::VectorXd;

// Each schedule seed with each sweep strategy of the fused kernel.
class JacobiSmallSchedules : public ::testing::TestWithParam<std::tuple<uint64_t, JacobiSweeps>> {
 protected:
  uint64_t seed() const { return std::get<0>(GetParam()); }
  SvdTuning tuning() const {
    SvdTuning t;
    t.jacobi.sweeps = std::get<1>(GetParam());
    return t;
  }
  std::vector<SvdRun> run(const std::vector<MatrixXd>& inputs) const {
    return run_svd<float>(inputs, seed(), 32 * 1024, tuning());
  }
};

TEST_P(JacobiSmallSchedules, GaussianShapesTallWideOddSquare) {
  std::mt19937_64 rng(42);
  const std::vector<std::pair<int, int>> shapes = {{1, 1}, {2, 2},   {7, 1},   {1, 7},   {5, 3},
                                                   {3, 5}, {16, 16}, {33, 17}, {17, 33}, {40, 40}};
  for (const auto& [m, n] : shapes) {
    const std::vector<MatrixXd> batch = {testing::gaussian(m, n, rng),
                                         testing::gaussian(m, n, rng)};
    const auto runs = run(batch);
    for (const SvdRun& r : runs)
      expect_fp32_contract(r, std::to_string(m) + "x" + std::to_string(n));
  }
}

TEST_P(JacobiSmallSchedules, Metal64x64KeepsVInDeviceMemory) {
  std::mt19937_64 rng(7);
  const auto runs = run({testing::gaussian(64, 64, rng)});
  expect_fp32_contract(runs[0], "64x64");
}

TEST_P(JacobiSmallSchedules, GradedSpectrum) {
  std::mt19937_64 rng(3);
  const MatrixXd a = testing::with_singular_values(32, 24, testing::graded_spectrum(24, 6), rng);
  expect_fp32_contract(run({a})[0], "graded 1..1e-6");
}

TEST_P(JacobiSmallSchedules, RankDeficientCompletesOrthonormalU) {
  std::mt19937_64 rng(5);
  VectorXd sigma = VectorXd::Zero(20);
  sigma.head(8) = testing::graded_spectrum(8, 2);
  const MatrixXd a = testing::with_singular_values(28, 20, sigma, rng);
  const SvdRun result = run({a})[0];
  expect_fp32_contract(result, "rank 8 of 20");
  // An exactly zero column and an exactly zero matrix: S = 0, U and V still orthonormal.
  MatrixXd with_zero_column = testing::gaussian(12, 6, rng);
  with_zero_column.col(2).setZero();
  expect_fp32_contract(run({with_zero_column})[0], "zero column");
  const SvdRun zero = run({MatrixXd::Zero(9, 5)})[0];
  expect_fp32_contract(zero, "zero matrix");
  EXPECT_EQ(zero.s.cwiseAbs().maxCoeff(), 0.0);
}

TEST_P(JacobiSmallSchedules, RepeatedSingularValues) {
  std::mt19937_64 rng(9);
  VectorXd sigma(16);
  sigma << 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5;
  const MatrixXd a = testing::with_singular_values(16, 16, sigma, rng);
  expect_fp32_contract(run({a})[0], "repeated");
  const SvdRun identity = run({MatrixXd::Identity(10, 10)})[0];
  expect_fp32_contract(identity, "identity");
}

INSTANTIATE_TEST_SUITE_P(SeedsAndSweeps, JacobiSmallSchedules,
                         ::testing::Combine(::testing::Values(1u, 2u, 3u),
                                            ::testing::Values(JacobiSweeps::pairwise,
                                                              JacobiSweeps::warp_blocks)),
                         [](const ::testing::TestParamInfo<JacobiSmallSchedules::ParamType>& info) {
                           return std::string(std::get<1>(info.param) == JacobiSweeps::pairwise
                                                  ? "pairwise"
                                                  : "warp_blocks") +
                                  "_seed" + std::to_string(std::get<0>(info.param));
                         });

TEST(JacobiSmall, SmallSingularValuesOfColumnGradedMatricesKeepRelativeAccuracy) {
  // A = B D with B well conditioned and D graded over six decades: one-sided Jacobi determines
  // every sigma to a few ulps relative to itself (Demmel & Veselic), not only relative to
  // sigma_max as bidiagonalisation-based SVDs do.
  std::mt19937_64 rng(11);
  const int n = 24;
  VectorXd b_sigma(n);
  for (int i = 0; i < n; ++i) b_sigma(i) = 1.0 + static_cast<double>(i) / n;
  const MatrixXd b = testing::with_singular_values(32, n, b_sigma, rng);
  const MatrixXd a = b * testing::graded_spectrum(n, 6).asDiagonal();
  const SvdRun run = run_svd<float>({a}, 1)[0];
  expect_fp32_contract(run, "column graded");
  const SvdErrors e = testing::svd_errors(run.a, run.u, run.s, run.v);
  EXPECT_LE(e.sigma_relative, 2e-5);
}

TEST(JacobiSmall, ScalingDoesNotOverflowOrUnderflow) {
  std::mt19937_64 rng(13);
  const MatrixXd g = testing::gaussian(12, 12, rng);
  for (double scale : {1e-30, 1e30}) {
    const SvdRun run = run_svd<float>({g * scale}, 2)[0];
    expect_accurate(run, kSigmaTolF32, kOrthogonalityTolF32, kReconstructionTolF32,
                    "scale " + std::to_string(scale));
  }
}

TEST(JacobiSmall, Float64MeetsDoublePrecision) {
  std::mt19937_64 rng(17);
  for (const auto& [m, n] : std::vector<std::pair<int, int>>{{20, 12}, {12, 20}, {31, 31}}) {
    const SvdRun run = run_svd<double>({testing::gaussian(m, n, rng)}, 1)[0];
    expect_accurate(run, kTolF64, kTolF64, kTolF64, "f64");
  }
}

TEST(JacobiSmall, HalfAndBfloat16ComputeInFp32) {
  std::mt19937_64 rng(19);
  const MatrixXd a = testing::gaussian(24, 16, rng);
  // Outputs are rounded to the 16-bit type: errors at its precision (2^-11, 2^-8).
  expect_accurate(run_svd<kernels::half_t>({a}, 1)[0], 2e-3, 4e-3, 4e-3, "f16");
  expect_accurate(run_svd<kernels::bfloat16_t>({a}, 1)[0], 2e-2, 3e-2, 3e-2, "bf16");
}

TEST(JacobiSmall, NonFiniteInputGivesNanOnlyForThatMatrix) {
  std::mt19937_64 rng(23);
  MatrixXd bad = testing::gaussian(8, 8, rng);
  bad(3, 4) = std::numeric_limits<double>::quiet_NaN();
  MatrixXd infinite = testing::gaussian(8, 8, rng);
  infinite(0, 0) = std::numeric_limits<double>::infinity();
  const auto runs = run_svd<float>({testing::gaussian(8, 8, rng), bad, infinite}, 1);
  expect_fp32_contract(runs[0], "finite neighbour");
  testing::expect_nan_factors(runs[1], "nan");
  testing::expect_nan_factors(runs[2], "inf");
}

TEST(JacobiSmall, BeyondThreadgroupMemoryTheFusedKernelIsRefusedAndThePlanTakesAnother) {
  std::mt19937_64 rng(29);
  const MatrixXd a = testing::gaussian(100, 100, rng);
  SvdTuning fused;
  fused.algorithm = SvdAlgorithm::fused_jacobi;
  EXPECT_THROW(run_svd<float>({a}, 0, 32 * 1024, fused), InvalidArgument);
  // The plan runs it by divide and conquer in 32 KiB, and fused where the device has 128 KiB.
  expect_fp32_contract(run_svd<float>({a}, 0)[0], "100x100 divide and conquer");
  expect_fp32_contract(run_svd<float>({a}, 0, 128 * 1024, fused)[0], "100x100 with 128 KiB");
}

// The blocked one-sided Jacobi at small block sizes, the QR-preconditioned path and the
// bidiagonalisation with divide and conquer (its large nodes' vectors by GEMM from 16 rows),
// under each schedule seed: many rounds, sweeps, Householder panels, merges and GEMMs.
class AnySizeSchedules : public ::testing::TestWithParam<std::tuple<uint64_t, SvdAlgorithm>> {
 protected:
  template <typename T = float>
  std::vector<SvdRun> run(const std::vector<MatrixXd>& inputs) const {
    SvdTuning t;
    t.algorithm = std::get<1>(GetParam());
    t.block.block = 4;
    t.bidiagonal.gemm_rows = 16;
    return run_svd<T>(inputs, std::get<0>(GetParam()), 32 * 1024, t);
  }
};

TEST_P(AnySizeSchedules, GaussianShapes) {
  std::mt19937_64 rng(31);
  for (const auto& [m, n] : std::vector<std::pair<int, int>>{{40, 30}, {30, 40}, {70, 20}}) {
    const auto runs = run({testing::gaussian(m, n, rng), testing::gaussian(m, n, rng)});
    for (const SvdRun& r : runs)
      expect_fp32_contract(r, std::to_string(m) + "x" + std::to_string(n));
  }
}

TEST_P(AnySizeSchedules, GradedRankDeficientAndZero) {
  std::mt19937_64 rng(37);
  expect_fp32_contract(
      run({testing::with_singular_values(48, 36, testing::graded_spectrum(36, 6), rng)})[0],
      "graded 1..1e-6");
  VectorXd sigma = VectorXd::Zero(24);
  sigma.head(9) = testing::graded_spectrum(9, 2);
  expect_fp32_contract(run({testing::with_singular_values(40, 24, sigma, rng)})[0], "rank 9 of 24");
  expect_fp32_contract(run({MatrixXd::Zero(30, 20)})[0], "zero matrix");
}

TEST_P(AnySizeSchedules, Float64MeetsDoublePrecision) {
  std::mt19937_64 rng(41);
  const SvdRun r = run<double>({testing::gaussian(44, 28, rng)})[0];
  expect_accurate(r, kTolF64, kTolF64, kTolF64, "f64");
}

// Sweeps whose Gram matrices and rotations are backend GEMMs: the first two (then the
// kernels) or all. A matrix with orthogonal columns converges in the first sweep and is then
// rotated by the identity while the one beside it still rotates; float64 too.
TEST(AnySize, GemmSweepsMeetTheContract) {
  std::mt19937_64 rng(47);
  const MatrixXd gaussian = testing::gaussian(50, 36, rng);
  const MatrixXd graded =
      testing::with_singular_values(50, 36, testing::graded_spectrum(36, 4), rng);
  const Eigen::JacobiSVD<MatrixXd> svd(graded, Eigen::ComputeThinV);
  const MatrixXd orthogonal_columns = graded * svd.matrixV();
  for (int32_t gemm_sweeps : {2, 30}) {
    SvdTuning t;
    t.algorithm = SvdAlgorithm::blocked_jacobi;
    t.block.block = 4;
    t.block.gemm_sweeps = gemm_sweeps;
    const std::string what = "gemm_sweeps " + std::to_string(gemm_sweeps);
    for (uint64_t seed : {1u, 2u}) {
      const auto runs = run_svd<float>({gaussian, orthogonal_columns}, seed, 32 * 1024, t);
      expect_fp32_contract(runs[0], what + " gaussian");
      expect_fp32_contract(runs[1], what + " orthogonal columns");
    }
    const SvdRun r64 = run_svd<double>({gaussian}, 1, 32 * 1024, t)[0];
    expect_accurate(r64, kTolF64, kTolF64, kTolF64, what + " f64");
  }
}

// The blocked path's float64 refinement of the singular values (on the cpu backend, which has
// float64): after the 39 rounds a sweep of 2-column blocks takes, every value within one float32
// ulp of sigma_max of Eigen's; without it the column norms are off by a few ulps.
TEST(AnySize, SingularValuesRefinedInFloat64) {
  std::mt19937_64 rng(53);
  const MatrixXd a = testing::gaussian(96, 80, rng);
  SvdTuning t;
  t.algorithm = SvdAlgorithm::blocked_jacobi;
  t.block.block = 2;
  t.block.refine_sigma = 1;
  const SvdRun r = run_svd<float>({a}, 1, 32 * 1024, t)[0];
  expect_fp32_contract(r, "refined");
  const VectorXd reference = Eigen::JacobiSVD<MatrixXd>(r.a).singularValues();
  const double error = (r.s - reference).cwiseAbs().maxCoeff() / reference(0);
  EXPECT_LE(error, std::numeric_limits<float>::epsilon());
  t.block.refine_sigma = 0;
  const SvdRun unrefined = run_svd<float>({a}, 1, 32 * 1024, t)[0];
  expect_fp32_contract(unrefined, "unrefined");
}

// Tall matrices have their Householder panels factored by a tree of tiles: full and partial
// panels, a zero column (no reflector) and a column that is already e_1 below a dependent one,
// under each schedule seed, in float32 and float64, with the plan's tiles and with others.
TEST(AnySize, TallPanelsOverTileTrees) {
  std::mt19937_64 rng(43);
  const MatrixXd gaussian = testing::gaussian(1500, 40, rng);
  MatrixXd special = testing::gaussian(1100, 36, rng);
  special.col(3).setZero();
  special.col(7).setZero();
  special(0, 7) = 2.0;
  special.col(9) = special.col(2) * 0.5;
  SvdTuning t;
  t.algorithm = SvdAlgorithm::qr_jacobi;
  for (uint64_t seed : {1u, 2u, 3u}) {
    const auto runs = run_svd<float>({gaussian, gaussian}, seed, 32 * 1024, t);
    for (const SvdRun& r : runs) expect_fp32_contract(r, "1500x40 seed " + std::to_string(seed));
    expect_fp32_contract(run_svd<float>({special}, seed, 32 * 1024, t)[0], "zero and e_1 columns");
    const SvdRun r64 = run_svd<double>({gaussian}, seed, 32 * 1024, t)[0];
    expect_accurate(r64, kTolF64, kTolF64, kTolF64, "1500x40 f64");
  }
  // Nodes of two children (a deep tree) and of three.
  for (uint32_t rows : {64u, 96u}) {
    t.qr_panel_rows = rows;
    const std::string label = " tiles " + std::to_string(rows);
    expect_fp32_contract(run_svd<float>({gaussian}, 1, 32 * 1024, t)[0], "1500x40" + label);
    expect_fp32_contract(run_svd<float>({special}, 2, 32 * 1024, t)[0], "zero and e_1" + label);
    const SvdRun r64 = run_svd<double>({gaussian}, 3, 64 * 1024, t)[0];
    expect_accurate(r64, kTolF64, kTolF64, kTolF64, "1500x40 f64" + label);
  }
}

// The plan's QR preconditioning at the shapes whose two paths were timed on the H200, and at
// the rule's edges.
TEST(AnySize, QrPreconditionsWhereItWasMeasuredFaster) {
  // H200 timings, direct against after the QR: float32, then float64.
  EXPECT_FALSE(qr_preconditions(2560, 1024));  // 18.5 ms direct, 27.5 ms with the QR
  EXPECT_FALSE(qr_preconditions(4096, 2048));  // 47.6 ms, 63.7 ms; float64 67.1 ms, 81.8 ms
  EXPECT_FALSE(qr_preconditions(5120, 2048));  // 60.5 ms, 65.8 ms
  EXPECT_TRUE(qr_preconditions(6144, 2048));   // 72.7 ms, 67.0 ms; float64 102 ms, 85.5 ms
  EXPECT_TRUE(qr_preconditions(8192, 3072));   // 167 ms, 128 ms
  EXPECT_TRUE(qr_preconditions(8192, 4096));   // 266 ms, 208 ms
  EXPECT_TRUE(qr_preconditions(16384, 256));   // 9.1 ms, 6.5 ms; float64 11.4 ms, 8.0 ms
  EXPECT_FALSE(qr_preconditions(1023, 512));   // fewer than 2 rows a column
  EXPECT_TRUE(qr_preconditions(512, 256));     // one launch a QR panel
  EXPECT_FALSE(qr_preconditions(1024, 256));
  EXPECT_TRUE(qr_preconditions(2048, 256));  // 8 rows a column
}

INSTANTIATE_TEST_SUITE_P(SeedsAndAlgorithms, AnySizeSchedules,
                         ::testing::Combine(::testing::Values(1u, 2u, 3u),
                                            ::testing::Values(SvdAlgorithm::blocked_jacobi,
                                                              SvdAlgorithm::qr_jacobi,
                                                              SvdAlgorithm::bidiagonal_dc)),
                         [](const ::testing::TestParamInfo<AnySizeSchedules::ParamType>& info) {
                           const SvdAlgorithm a = std::get<1>(info.param);
                           return std::string(a == SvdAlgorithm::qr_jacobi       ? "qr"
                                              : a == SvdAlgorithm::bidiagonal_dc ? "dc"
                                                                                 : "blocked") +
                                  "_seed" + std::to_string(std::get<0>(info.param));
                         });

}  // namespace
}  // namespace metalsvd
