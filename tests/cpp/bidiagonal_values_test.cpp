// The singular values alone: the multisection kernel on bidiagonal matrices (against Eigen in
// long double, to relative accuracy), and svd_values through the plan on every path, on the cpu
// backend (threadgroup emulator) under several schedules.
#include "core/bidiagonal_values.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/column_major.h"
#include "kernels/bidiagonal_values.h"
#include "limited_backend.h"
#include "svd_runner.h"
#include "test_bidiagonals.h"

namespace metalsvd {
namespace {

using testing::Bidiagonal;
using testing::MatrixXd;
using testing::random_bidiagonal;
using testing::VectorXd;

// One-sided Jacobi (Hestenes) in long double, rotating until every pair of columns is
// orthogonal to long double's roundoff relative to their norms: an independent reference that
// keeps the small values of a column-graded matrix (B = M D, M well conditioned) to high
// relative accuracy (Demmel and Veselic), where Eigen's two-sided JacobiSVD loses them (1% at
// 1e-18 on the graded case below, checked against 70-digit arithmetic).
VectorXd reference_values(const MatrixXd& b) {
  using Ld = long double;
  Eigen::Matrix<Ld, Eigen::Dynamic, Eigen::Dynamic> a = b.cast<Ld>();
  const int n = static_cast<int>(a.cols());
  const Ld eps = std::numeric_limits<Ld>::epsilon();
  for (int sweep = 0; sweep < 80; ++sweep) {
    bool rotated = false;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        const Ld alpha = a.col(p).squaredNorm();
        const Ld beta = a.col(q).squaredNorm();
        const Ld gamma = a.col(p).dot(a.col(q));
        if (std::abs(gamma) <= eps * std::sqrt(alpha * beta)) continue;
        rotated = true;
        const Ld zeta = (beta - alpha) / (2 * gamma);
        const Ld t = (zeta >= 0 ? 1 : -1) / (std::abs(zeta) + std::sqrt(1 + zeta * zeta));
        const Ld c = 1 / std::sqrt(1 + t * t);
        const Ld s = c * t;
        const auto column_p = a.col(p).eval();
        a.col(p) = c * column_p - s * a.col(q);
        a.col(q) = s * column_p + c * a.col(q);
      }
    if (!rotated) break;
  }
  std::vector<double> norms;
  for (int j = 0; j < n; ++j) norms.push_back(static_cast<double>(a.col(j).norm()));
  std::sort(norms.rbegin(), norms.rend());
  return Eigen::Map<VectorXd>(norms.data(), n);
}

// The values of every matrix (all of one size) from one launch.
template <typename C>
std::vector<VectorXd> run_values(const std::vector<Bidiagonal>& inputs, uint64_t seed,
                                 uint32_t max_threads = 0, uint32_t points = 0) {
  const uint32_t batch = static_cast<uint32_t>(inputs.size());
  const uint32_t n = static_cast<uint32_t>(inputs[0].d.size());
  const ScalarType type = std::is_same<C, double>::value ? ScalarType::f64 : ScalarType::f32;
  std::vector<C> de = testing::packed_diagonals<C>(inputs);
  std::vector<C> sigma(size_t{batch} * n, std::numeric_limits<C>::quiet_NaN());
  emu::EmulatorOptions options;
  options.schedule_seed = seed;
  std::map<std::string, uint32_t> limits;
  if (max_threads != 0)
    limits[std::string("bidiagonal_values_") + kernel_type_name(type)] = max_threads;
  testing::LimitedBackend backend(limits, options);
  BidiagonalDiagonals diagonals{Buffer{de.data(), 0}, 2 * int64_t{n}, n};
  MatrixBatch out{Buffer{sigma.data(), 0}, type, batch, 1, n, n, 1, 1};
  enqueue_bidiagonal_values(backend, type, batch, n, diagonals, out, points);
  std::vector<VectorXd> runs(batch, VectorXd(n));
  for (uint32_t b = 0; b < batch; ++b)
    for (uint32_t i = 0; i < n; ++i) runs[b](i) = static_cast<double>(sigma[b * n + i]);
  return runs;
}

// Each value to within `relative` of itself (below `floor` of sigma_max: to within that), and in
// descending order.
void expect_values(const VectorXd& sigma, const VectorXd& reference, double relative, double floor,
                   const std::string& what) {
  const double top = reference.size() > 0 ? reference(0) : 0.0;
  for (int i = 0; i < sigma.size(); ++i) {
    const double allowed = std::max(relative * reference(i), floor * top);
    EXPECT_LE(std::abs(sigma(i) - reference(i)), allowed)
        << what << ": value " << i << " of " << sigma.size() << ", " << sigma(i) << " against "
        << reference(i);
    if (i > 0) {
      EXPECT_LE(sigma(i), sigma(i - 1)) << what << ": not descending at " << i;
    }
  }
}

// The Sturm counts are exact for TGK with each entry perturbed by a few unit roundoffs, which
// moves a value by at most a few roundoffs times the order (Demmel and Kahan); measured errors
// are a few roundoffs. The kernel takes values below eps^2 sigma_max as that floor.
template <typename C>
double relative_tol(int n) {
  return 4.0 * n * std::numeric_limits<C>::epsilon();
}
template <typename C>
double floor_tol() {
  const double eps = std::numeric_limits<C>::epsilon();
  return eps * eps;
}

class ValuesSchedules : public ::testing::TestWithParam<uint64_t> {};

TEST_P(ValuesSchedules, RandomBidiagonalsOfEverySmallSize) {
  std::mt19937_64 rng(211);
  for (int n : {1, 2, 3, 5, 8, 13, 31, 32, 33, 64, 100}) {
    const std::vector<Bidiagonal> in = {random_bidiagonal(n, rng), random_bidiagonal(n, rng)};
    const auto f32 = run_values<float>(in, GetParam());
    const auto f64 = run_values<double>(in, GetParam());
    for (size_t b = 0; b < in.size(); ++b) {
      const std::string what = "n " + std::to_string(n);
      expect_values(f32[b], reference_values(in[b].dense<float>()), relative_tol<float>(n),
                    floor_tol<float>(), what);
      expect_values(f64[b], reference_values(in[b].dense<double>()), relative_tol<double>(n),
                    floor_tol<double>(), what + " f64");
    }
  }
}

// Graded over 24 decades: a method accurate only relative to sigma_max would get the small
// values wrong entirely; multisection gets each to a few roundoffs of itself. Then zeros on the
// diagonal (exact zero values), a split matrix, equal values, a zero matrix (exact zeros), a
// cluster closer than float32 resolves, and entries near overflow's square root.
TEST_P(ValuesSchedules, GradedZeroSplitEqualClusteredAndLarge) {
  std::mt19937_64 rng(223);
  const int n = 48;
  std::vector<Bidiagonal> cases;
  std::vector<std::string> names;
  Bidiagonal graded;
  for (int i = 0; i < n; ++i) graded.d.push_back(std::pow(10.0, -24.0 * i / (n - 1)));
  for (int i = 0; i + 1 < n; ++i) graded.e.push_back(0.5 * graded.d[i + 1]);
  cases.push_back(graded);
  names.push_back("graded");
  Bidiagonal zero_diagonal = random_bidiagonal(n, rng);
  for (int i = 0; i < n; i += 3) zero_diagonal.d[i] = 0.0;
  cases.push_back(zero_diagonal);
  names.push_back("zero diagonal");
  Bidiagonal split = random_bidiagonal(n, rng);
  for (int i = 0; i + 1 < n; i += 4) split.e[i] = 0.0;
  cases.push_back(split);
  names.push_back("split");
  cases.push_back({std::vector<double>(n, 1.0), std::vector<double>(n - 1, 0.0)});
  names.push_back("identity");
  cases.push_back({std::vector<double>(n, 0.0), std::vector<double>(n - 1, 0.0)});
  names.push_back("zero");
  Bidiagonal cluster;
  std::normal_distribution<double> normal;
  for (int i = 0; i < n; ++i) cluster.d.push_back(1.0 + 1e-9 * normal(rng));
  for (int i = 0; i + 1 < n; ++i) cluster.e.push_back(1e-8 * normal(rng));
  cases.push_back(cluster);
  names.push_back("cluster");
  Bidiagonal large = random_bidiagonal(n, rng);
  for (double& x : large.d) x *= 1e18;
  for (double& x : large.e) x *= 1e18;
  cases.push_back(large);
  names.push_back("1e18");
  for (size_t c = 0; c < cases.size(); ++c) {
    const auto f32 = run_values<float>({cases[c]}, GetParam())[0];
    const auto f64 = run_values<double>({cases[c]}, GetParam())[0];
    expect_values(f32, reference_values(cases[c].dense<float>()), relative_tol<float>(n),
                  floor_tol<float>(), names[c]);
    expect_values(f64, reference_values(cases[c].dense<double>()), relative_tol<double>(n),
                  floor_tol<double>(), names[c] + " f64");
  }
  // A zero matrix's values are exactly zero, not the floor.
  const VectorXd zeros = run_values<float>({cases[4]}, GetParam())[0];
  EXPECT_TRUE((zeros.array() == 0.0).all()) << zeros.transpose();
}

INSTANTIATE_TEST_SUITE_P(Seeds, ValuesSchedules, ::testing::Values(1u, 2u, 3u));

TEST(BidiagonalValues, FewerThreadsAGroupWhereTheDeviceAllowsFewer) {
  std::mt19937_64 rng(227);
  const std::vector<Bidiagonal> in = {random_bidiagonal(40, rng)};
  const VectorXd reference = reference_values(in[0].dense<float>());
  expect_values(run_values<float>(in, 1, 32)[0], reference, relative_tol<float>(40),
                floor_tol<float>(), "32 threads");
  expect_values(run_values<float>(in, 1, 96)[0], reference, relative_tol<float>(40),
                floor_tol<float>(), "96 threads");
}

TEST(BidiagonalValues, RoundsCoverTheBracket) {
  // points + 1 intervals a round: the rounds must take g to g eps^2.
  for (uint32_t points : {4u, 8u, 16u, 32u})
    for (uint32_t bits : {23u, 52u}) {
      const double narrowed =
          std::pow(points + 1.0, kernels::bidiagonal_values_rounds(bits, points) - 2);
      EXPECT_GE(narrowed, std::pow(2.0, 2.0 * bits)) << bits << " bits, " << points << " points";
    }
}

TEST(BidiagonalValues, FewerPointsAValueAsValuesFillTheDevice) {
  EXPECT_EQ(kernels::bidiagonal_values_points(1), 32u);
  EXPECT_EQ(kernels::bidiagonal_values_points(1024), 32u);
  EXPECT_EQ(kernels::bidiagonal_values_points(1025), 16u);
  EXPECT_EQ(kernels::bidiagonal_values_points(4096), 8u);
  EXPECT_EQ(kernels::bidiagonal_values_points(1 << 20), kernels::kValuesMinPoints);
}

// Every number of points a value (the host takes fewer for larger n): segments of 16, 8 and 4
// lanes, with idle segments in a SIMD group (n = 37 is not a multiple of 32 / points).
TEST_P(ValuesSchedules, EveryNumberOfPointsAValue) {
  std::mt19937_64 rng(251);
  Bidiagonal graded;
  for (int i = 0; i < 37; ++i) graded.d.push_back(std::pow(10.0, -20.0 * i / 36));
  for (int i = 0; i + 1 < 37; ++i) graded.e.push_back(0.5 * graded.d[i + 1]);
  const std::vector<Bidiagonal> in = {random_bidiagonal(37, rng), graded};
  for (uint32_t points : {4u, 8u, 16u, 32u}) {
    const auto f32 = run_values<float>(in, GetParam(), 0, points);
    const auto f64 = run_values<double>(in, GetParam(), 0, points);
    for (size_t b = 0; b < in.size(); ++b) {
      const std::string what = std::to_string(points) + " points, matrix " + std::to_string(b);
      expect_values(f32[b], reference_values(in[b].dense<float>()), relative_tol<float>(37),
                    floor_tol<float>(), what);
      expect_values(f64[b], reference_values(in[b].dense<double>()), relative_tol<double>(37),
                    floor_tol<double>(), what + " f64");
    }
  }
}

// svd_values against svd's reference values on every path the plan takes, tall and wide.
template <typename T>
void expect_values_contract(const testing::ValuesRun& run, double tol, const std::string& what) {
  const Eigen::JacobiSVD<MatrixXd> reference(run.a);
  const VectorXd& ref = reference.singularValues();
  EXPECT_EQ(run.info, kernels::kSvdConverged) << what;
  const double top = ref.size() ? ref(0) : 1.0;
  for (int i = 0; i < ref.size(); ++i) {
    EXPECT_LE(std::abs(run.s(i) - ref(i)), tol * (top > 0 ? top : 1.0)) << what << " " << i;
    if (i > 0) {
      EXPECT_LE(run.s(i), run.s(i - 1)) << what << " " << i;
    }
  }
}

TEST(SvdValues, EveryPathMeetsTheContract) {
  std::mt19937_64 rng(229);
  CpuBackend backend{emu::EmulatorOptions{}};
  struct Case {
    int rows, cols;
    SvdAlgorithm algorithm;
    const char* name;
  };
  const Case cases[] = {
      {20, 12, SvdAlgorithm::automatic, "fused"},
      {100, 96, SvdAlgorithm::automatic, "dc"},
      {96, 100, SvdAlgorithm::automatic, "dc wide"},
      {260, 100, SvdAlgorithm::automatic, "qr then dc"},
      {60, 40, SvdAlgorithm::bidiagonal_dc, "dc forced"},
      {60, 40, SvdAlgorithm::blocked_jacobi, "blocked"},
      {90, 30, SvdAlgorithm::qr_jacobi, "qr then fused"},
  };
  for (const Case& c : cases) {
    SvdTuning t;
    t.algorithm = c.algorithm;
    const std::vector<MatrixXd> in = {testing::gaussian(c.rows, c.cols, rng),
                                      testing::gaussian(c.rows, c.cols, rng)};
    for (const auto& run : testing::run_svd_values_on<float>(backend, in, t))
      expect_values_contract<float>(run, testing::kSigmaTolF32, c.name);
    for (const auto& run : testing::run_svd_values_on<double>(backend, in, t))
      expect_values_contract<double>(run, testing::kTolF64, std::string(c.name) + " f64");
  }
}

TEST(SvdValues, RankDeficientAndGradedThroughTheDcPath) {
  std::mt19937_64 rng(233);
  CpuBackend backend{emu::EmulatorOptions{}};
  VectorXd sigma = testing::graded_spectrum(80, 6.0);
  const MatrixXd graded = testing::with_singular_values(120, 80, sigma, rng);
  for (int i = 40; i < 80; ++i) sigma(i) = 0.0;
  const MatrixXd deficient = testing::with_singular_values(120, 80, sigma, rng);
  SvdTuning t;
  t.algorithm = SvdAlgorithm::bidiagonal_dc;
  const auto runs = testing::run_svd_values_on<float>(backend, {graded, deficient}, t);
  expect_values_contract<float>(runs[0], testing::kSigmaTolF32, "graded");
  expect_values_contract<float>(runs[1], testing::kSigmaTolF32, "rank-deficient");
}

TEST(SvdValues, NonFiniteInputGivesNanOnlyForThatMatrix) {
  std::mt19937_64 rng(239);
  CpuBackend backend{emu::EmulatorOptions{}};
  MatrixXd bad = testing::gaussian(70, 50, rng);
  bad(3, 4) = std::numeric_limits<double>::quiet_NaN();
  MatrixXd infinite = testing::gaussian(70, 50, rng);
  infinite(0, 0) = std::numeric_limits<double>::infinity();
  SvdTuning t;
  t.algorithm = SvdAlgorithm::bidiagonal_dc;
  const auto runs = testing::run_svd_values_on<float>(
      backend, {testing::gaussian(70, 50, rng), bad, infinite}, t);
  expect_values_contract<float>(runs[0], testing::kSigmaTolF32, "finite");
  for (int b : {1, 2}) {
    EXPECT_EQ(runs[b].info, kernels::kSvdNonFiniteInput) << b;
    EXPECT_TRUE(runs[b].s.array().isNaN().all()) << b;
  }
}

TEST(SvdValues, MatchesTheValuesOfTheFullSvd) {
  std::mt19937_64 rng(241);
  const std::vector<MatrixXd> in = {testing::gaussian(64, 64, rng)};
  SvdTuning t;
  t.algorithm = SvdAlgorithm::bidiagonal_dc;
  CpuBackend backend{emu::EmulatorOptions{}};
  const VectorXd full = testing::run_svd_on<double>(backend, in, t)[0].s;
  const VectorXd values = testing::run_svd_values_on<double>(backend, in, t)[0].s;
  EXPECT_LE((full - values).cwiseAbs().maxCoeff(), 1e-13 * full(0));
}

}  // namespace
}  // namespace metalsvd
