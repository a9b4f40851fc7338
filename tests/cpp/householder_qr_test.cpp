// The blocked Householder QR (core/householder_qr.h) with its panels by Cholesky QR2 or by
// tall-skinny QR (core/panel_qr.h, core/tsqr_panel.h, kernels/cholesky_qr.h, kernels/tsqr.h) on
// the cpu emulator, checked in double precision: Q R = A, Q orthogonal (the whole m x m Q, which
// full_matrices' completion applies), R upper triangular, and R's diagonal equal in magnitude to
// Eigen's Householder QR's.
#include "core/householder_qr.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "core/column_major.h"
#include "core/errors.h"
#include "core/tsqr_panel.h"
#include "core/workspace_kernels.h"
#include "svd_runner.h"
#include "test_matrices.h"
#include "workspace_runner.h"

namespace metalsvd {
namespace {

using testing::MatrixXd;

struct QrRun {
  MatrixXd r;            // n x n, the upper triangle of the factored matrix
  MatrixXd q;            // m x m, Q applied to the identity
  MatrixXd q_narrow;     // Q applied to run_qr's `narrow`, if it was given one
  double fallback = -1;  // the last panel's flag: 0 by Cholesky QR2, 1 by the TSQR (-1: TSQR only)
  uint32_t panel_width = 0;
  uint32_t apply_width = 0;  // the factors' (HouseholderFactors)
};

enum class Panels { kCholeskyFirst, kTsqrOnly };

// Factors every matrix (column-major, compute type T) in one batch and applies Q to I_m, and to
// `narrow` (m rows) where given.
template <typename T>
std::vector<QrRun> run_qr(const std::vector<MatrixXd>& inputs, uint32_t tile_rows, uint64_t seed,
                          uint32_t threadgroup_bytes = 32 * 1024,
                          Panels panels = Panels::kCholeskyFirst,
                          const MatrixXd& narrow = MatrixXd()) {
  constexpr ScalarType dtype = testing::Storage<T>::type;
  CpuBackend backend(testing::emulator(seed, threadgroup_bytes));
  const uint32_t batch = static_cast<uint32_t>(inputs.size());
  const uint32_t m = static_cast<uint32_t>(inputs[0].rows());
  const uint32_t n = static_cast<uint32_t>(inputs[0].cols());
  const uint32_t k = static_cast<uint32_t>(narrow.cols());
  testing::HostWorkspace host;
  const auto [a, q, thin, f] = host.take([&](WorkspaceLayout& layout) {
    const MatrixBatch a = take_matrix(layout, dtype, batch, m, n);
    const MatrixBatch q = take_matrix(layout, dtype, batch, m, m);
    const MatrixBatch thin = take_matrix(layout, dtype, batch, m, k);
    HouseholderFactors f =
        householder_factors(layout, backend.limits(), dtype, batch, m, n, m, tile_rows);
    if (panels == Panels::kTsqrOnly) f.cholesky_offset = kNoCholeskyQr;
    return std::make_tuple(a, q, thin, f);
  });
  host.load<T>(a, inputs);
  host.load<T>(thin, std::vector<MatrixXd>(batch, narrow));
  enqueue_householder_qr(backend, a, f);
  enqueue_set_identity(backend, q, 0);
  enqueue_apply_q(backend, f, q);
  enqueue_apply_q(backend, f, thin);
  std::vector<QrRun> runs(batch);
  for (uint32_t b = 0; b < batch; ++b) {
    const MatrixXd top = host.read<T>(sub_block(a, 0, 0, n, n), b);
    runs[b].r = top.triangularView<Eigen::Upper>();
    runs[b].q = host.read<T>(q, b);
    runs[b].q_narrow = host.read<T>(thin, b);
    runs[b].panel_width = f.panel_width;
    runs[b].apply_width = f.apply_width;
    if (f.cholesky_offset != kNoCholeskyQr) {
      const MatrixBatch flag =
          column_major(advanced(f.triangles, uint64_t{f.cholesky_offset} * sizeof(T)), dtype, batch,
                       1, 1, 1, f.triangles_batch_stride);
      runs[b].fallback = host.read<T>(flag, b)(0, 0);
    }
  }
  return runs;
}

// R's diagonal is unique up to signs only where A has full rank (`full_rank`): after a dependent
// column, Q's next column is any unit vector orthogonal to the ones before.
void expect_qr(const MatrixXd& a, const QrRun& run, double tol, const std::string& what,
               bool full_rank = true) {
  const uint32_t m = static_cast<uint32_t>(a.rows());
  const uint32_t n = static_cast<uint32_t>(a.cols());
  const double scale = std::max(a.norm(), 1.0);
  const MatrixXd qr = run.q.leftCols(n) * run.r;
  EXPECT_LE((qr - a).norm() / scale, tol) << what << ": Q R != A";
  EXPECT_LE((run.q.transpose() * run.q - MatrixXd::Identity(m, m)).cwiseAbs().maxCoeff(), tol)
      << what << ": Q not orthogonal";
  if (!full_rank) return;
  const MatrixXd reference = a.householderQr().matrixQR().triangularView<Eigen::Upper>();
  for (uint32_t i = 0; i < n; ++i)
    EXPECT_NEAR(std::abs(run.r(i, i)), std::abs(reference(i, i)), tol * scale)
        << what << ": R(" << i << ", " << i << ")";
}

// Tiles of the plan's rows, of two children a node (a deep tree), three, and nine (a node not
// a power of two); a single tile; a panel narrower than a tile's width: by the TSQR alone, and
// with Cholesky QR2 first (whose Gaussian panels never fall back).
TEST(HouseholderQr, TallSkinnyPanelsEveryTreeShape) {
  std::mt19937_64 rng(7);
  struct Case {
    uint32_t rows, cols, tile_rows;
  };
  for (const Case c :
       {Case{1100, 36, 0}, Case{1100, 36, 64}, Case{1500, 40, 96}, Case{700, 33, 300},
        Case{40, 7, 64}, Case{64, 64, 64}, Case{2000, 1, 64}, Case{129, 5, 64}}) {
    const std::string what = std::to_string(c.rows) + "x" + std::to_string(c.cols) + " tiles " +
                             std::to_string(c.tile_rows);
    const MatrixXd a = testing::gaussian(c.rows, c.cols, rng);
    // Metal's 32 KiB where the tiles fit it (the plan's always do), more for larger tiles.
    const uint32_t f32_bytes = c.tile_rows > 128 ? 128 * 1024 : 32 * 1024;
    const uint32_t f64_bytes = c.tile_rows > 64 ? 128 * 1024 : 32 * 1024;
    for (uint64_t seed : {1u, 2u})
      for (Panels panels : {Panels::kTsqrOnly, Panels::kCholeskyFirst}) {
        const std::string how = panels == Panels::kTsqrOnly ? " tsqr" : " cholesky";
        expect_qr(a, run_qr<float>({a}, c.tile_rows, seed, f32_bytes, panels)[0], 2e-6,
                  what + how + " f32");
        expect_qr(a, run_qr<double>({a}, c.tile_rows, seed, f64_bytes, panels)[0], 1e-14,
                  what + how + " f64");
      }
  }
}

// Zero columns (no reflector), a column already e_1 below a dependent one, equal columns, a
// zero matrix: Q stays orthogonal whatever the panels' rank; and a batch of two.
TEST(HouseholderQr, RankDeficientPanelsAndBatches) {
  std::mt19937_64 rng(11);
  MatrixXd special = testing::gaussian(700, 36, rng);
  special.col(3).setZero();
  special.col(7).setZero();
  special(0, 7) = 2.0;
  special.col(9) = special.col(2) * 0.5;
  special.col(10) = special.col(2);
  const MatrixXd zero = MatrixXd::Zero(300, 20);
  const MatrixXd other = testing::gaussian(700, 36, rng);
  for (uint64_t seed : {1u, 3u}) {
    for (uint32_t tile : {0u, 64u, 96u})
      for (Panels panels : {Panels::kTsqrOnly, Panels::kCholeskyFirst}) {
        const std::string what = "tiles " + std::to_string(tile) + " seed " + std::to_string(seed) +
                                 (panels == Panels::kTsqrOnly ? " tsqr" : " cholesky");
        const uint32_t bytes = 32 * 1024;
        const std::vector<QrRun> runs = run_qr<float>({special, other}, tile, seed, bytes, panels);
        expect_qr(special, runs[0], 2e-6, "special " + what, false);
        expect_qr(other, runs[1], 2e-6, "batch " + what);
        expect_qr(zero, run_qr<float>({zero}, tile, seed, bytes, panels)[0], 2e-6, "zero " + what);
        expect_qr(special, run_qr<double>({special}, tile, seed, 64 * 1024, panels)[0], 1e-14,
                  "special f64 " + what, false);
      }
  }
}

// Which panels Cholesky QR2 keeps: well-conditioned ones (cond 1e2 and 1e3 in float32, 1e6 in
// float64, below eps^-1/2), each matrix of a batch on its own; the TSQR factors the rest (cond 1e6
// in float32, a zero column, a zero panel), and every result is a QR either way.
TEST(HouseholderQr, CholeskyQrWhereItHoldsTsqrElsewhere) {
  std::mt19937_64 rng(17);
  const MatrixXd mild =
      testing::with_singular_values(1100, 32, testing::graded_spectrum(32, 2), rng);
  const MatrixXd graded =
      testing::with_singular_values(1100, 32, testing::graded_spectrum(32, 6), rng);
  const MatrixXd edge =
      testing::with_singular_values(1100, 32, testing::graded_spectrum(32, 3), rng);
  MatrixXd deficient = testing::gaussian(1100, 20, rng);
  deficient.col(5).setZero();
  const MatrixXd zero = MatrixXd::Zero(300, 8);
  for (uint64_t seed : {1u, 4u}) {
    const std::string what = " seed " + std::to_string(seed);
    const std::vector<QrRun> f32 = run_qr<float>({mild, graded, edge}, 0, seed);
    expect_qr(mild, f32[0], 2e-6, "cond 1e2 f32" + what);
    EXPECT_EQ(f32[0].fallback, 0.0) << "cond 1e2 f32" << what;
    expect_qr(graded, f32[1], 2e-6, "cond 1e6 f32" + what);
    EXPECT_EQ(f32[1].fallback, 1.0) << "cond 1e6 f32" << what;
    // Near CholeskyQR2's limit, Q R = A still to rounding: the rows are solved against R_k.
    expect_qr(edge, f32[2], 2e-6, "cond 1e3 f32" + what);
    EXPECT_EQ(f32[2].fallback, 0.0) << "cond 1e3 f32" << what;
    const QrRun f64 = run_qr<double>({graded}, 0, seed)[0];
    expect_qr(graded, f64, 1e-14, "cond 1e6 f64" + what);
    EXPECT_EQ(f64.fallback, 0.0) << "cond 1e6 f64" << what;
    const QrRun lost = run_qr<float>({deficient}, 0, seed)[0];
    expect_qr(deficient, lost, 2e-6, "zero column" + what, false);
    EXPECT_EQ(lost.fallback, 1.0) << "zero column" << what;
    const QrRun none = run_qr<float>({zero}, 0, seed)[0];
    expect_qr(zero, none, 2e-6, "zero panel" + what);
    EXPECT_EQ(none.fallback, 1.0) << "zero panel" << what;
  }
}

// Q applied to x in blocks of several panels where x is at least a block wide (the identity:
// whole blocks, then a partial one of several panels, the last narrower), a panel at a time where
// it is narrower (`narrow`, 5 columns), and the same Q either way: Q R = A and Q orthogonal, in a
// workspace that holds NaNs wherever nothing was written (the blocks read the zeros above each
// panel). 4 KiB of threadgroup memory: panels of 16 columns, three a block of 420 rows.
template <typename T>
void expect_blocked_q(const MatrixXd& a, const MatrixXd& narrow, double tol,
                      const std::string& what) {
  const QrRun run = run_qr<T>({a}, 0, 1, 4 * 1024, Panels::kCholeskyFirst, narrow)[0];
  const uint32_t n = static_cast<uint32_t>(a.cols());
  const uint32_t per_block = run.apply_width / run.panel_width;
  const uint32_t panels = (n + run.panel_width - 1) / run.panel_width;
  ASSERT_GT(per_block, 1u) << what;
  ASSERT_GT(panels % per_block, 1u) << what << ": a partial block of several panels";
  ASSERT_NE(n % run.panel_width, 0u) << what << ": a narrower last panel";
  ASSERT_LT(narrow.cols(), run.apply_width) << what;
  expect_qr(a, run, tol, what);
  EXPECT_LE((run.q_narrow - run.q * narrow).norm() / narrow.norm(), tol)
      << what << ": Q x a panel at a time differs";
}

TEST(HouseholderQr, QAppliedInBlocksOfPanels) {
  std::mt19937_64 rng(19);
  const MatrixXd a = testing::gaussian(420, 270, rng);
  const MatrixXd narrow = testing::gaussian(420, 5, rng);
  expect_blocked_q<float>(a, narrow, 4e-6, "420x270 f32");
  expect_blocked_q<double>(a, narrow, 1e-13, "420x270 f64");
}

// A block's width: kApplyBlockPanels panels, fewer where Q has fewer or where that would take
// more than an eighth of Q's rows (the GEMM scratch at most a quarter of x).
TEST(HouseholderQr, ApplyBlocksWithinAnEighthOfTheRows) {
  const DeviceLimits limits{32 * 1024, 1024, 32, true, false};
  const auto width = [&](uint32_t rows, uint32_t cols) {
    WorkspaceLayout sizing;
    return householder_factors(sizing, limits, ScalarType::f32, 1, rows, cols, rows).apply_width;
  };
  EXPECT_EQ(width(8192, 8192), kApplyBlockPanels * 32);
  EXPECT_EQ(width(2048, 2048), 8 * 32u);
  EXPECT_EQ(width(1024, 1024), 4 * 32u);
  EXPECT_EQ(width(16384, 256), 8 * 32u);
  EXPECT_EQ(width(16384, 64), 2 * 32u);  // two panels in all
  EXPECT_EQ(width(300, 300), 32u);       // a panel at a time
  EXPECT_EQ(width(100, 20), 20u);        // one narrow panel
}

// The tree: leaves of at most tile_rows rows, nodes of tile_rows / width children, one root,
// and the scratch of a panel never more than that of a taller or wider one.
TEST(HouseholderQr, TreeShapes) {
  EXPECT_EQ(tsqr_tree(100, 32, 128).tiles, (std::vector<uint32_t>{1}));
  EXPECT_EQ(tsqr_tree(129, 32, 128).tiles, (std::vector<uint32_t>{2, 1}));
  EXPECT_EQ(tsqr_tree(16384, 32, 128).tiles, (std::vector<uint32_t>{128, 32, 8, 2, 1}));
  EXPECT_EQ(tsqr_tree(16384, 32, 1024).tiles, (std::vector<uint32_t>{16, 1}));
  EXPECT_EQ(tsqr_tree(1100, 36 - 32, 64).tiles, (std::vector<uint32_t>{18, 2, 1}));
  for (uint32_t rows : {64u, 65u, 1000u, 5000u})
    for (uint32_t width : {1u, 17u, 32u}) {
      const uint32_t size = tsqr_tree(rows, width, 96).size;
      EXPECT_LE(size, tsqr_tree(rows + 97, width, 96).size);
      EXPECT_LE(size, tsqr_tree(rows, 32, 96).size);
    }
}

// The plan's panels and tiles: the widest panel whose smallest tile fits the threadgroup memory,
// the largest tile that fits (128 float32 rows in Metal's 32 KiB, 64 float64), and refusals of
// tiles that cannot be.
TEST(HouseholderQr, PanelsAndTilesFitTheDevice) {
  const auto shape = [](uint32_t bytes, ScalarType dtype, uint32_t wanted = 0) {
    const TsqrShape s = tsqr_shape(DeviceLimits{bytes, 1024, 32, true, false}, dtype, wanted);
    return std::make_pair(s.width, s.tile_rows);
  };
  using Shape = std::pair<uint32_t, uint32_t>;
  EXPECT_EQ(shape(32 * 1024, ScalarType::f32), Shape(32, 128));
  EXPECT_EQ(shape(32 * 1024, ScalarType::f64), Shape(32, 64));
  EXPECT_EQ(shape(227 * 1024, ScalarType::f32), Shape(32, 1024));
  EXPECT_EQ(shape(227 * 1024, ScalarType::f32, 300), Shape(32, 300));
  EXPECT_EQ(shape(8 * 1024, ScalarType::f32), Shape(16, 64));
  EXPECT_EQ(shape(4 * 1024, ScalarType::f32), Shape(16, 32));
  EXPECT_THROW(shape(227 * 1024, ScalarType::f32, 63), InvalidArgument);
  EXPECT_THROW(shape(227 * 1024, ScalarType::f32, 1025), InvalidArgument);
  EXPECT_THROW(shape(8 * 1024, ScalarType::f32, 128), InvalidArgument);
  EXPECT_THROW(shape(8, ScalarType::f32), NotImplemented);  // not one column
}

// Narrow panels where the threadgroup memory is small: 16 columns and tiles of 32 rows in 4 KiB.
TEST(HouseholderQr, NarrowPanelsInLittleMemory) {
  std::mt19937_64 rng(13);
  const MatrixXd a = testing::gaussian(300, 45, rng);
  expect_qr(a, run_qr<float>({a}, 0, 1, 4 * 1024)[0], 2e-6, "4 KiB");
}

}  // namespace
}  // namespace metalsvd
