// The first stage of the two-stage bidiagonalisation (core/band_reduction.h) on the cpu
// emulator, checked in double precision: Q and P orthogonal, Q^T A P upper banded with the
// panels' width of superdiagonals, and its band the one left in the workspace.
#include "core/band_reduction.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "core/column_major.h"
#include "core/workspace_kernels.h"
#include "svd_runner.h"
#include "test_matrices.h"
#include "workspace_runner.h"

namespace metalsvd {
namespace {

using testing::MatrixXd;

struct BandRun {
  MatrixXd band;  // cols x cols: the workspace's band, zeros elsewhere
  MatrixXd q;     // rows x rows
  MatrixXd p;     // cols x cols
};

template <typename T>
std::vector<BandRun> run_band(const std::vector<MatrixXd>& inputs, uint64_t seed,
                              uint32_t tile_rows = 0) {
  constexpr ScalarType dtype = testing::Storage<T>::type;
  CpuBackend backend(testing::emulator(seed));
  const uint32_t batch = static_cast<uint32_t>(inputs.size());
  const uint32_t m = static_cast<uint32_t>(inputs[0].rows());
  const uint32_t n = static_cast<uint32_t>(inputs[0].cols());
  testing::HostWorkspace host;
  const auto [r, q, p] = host.take([&](WorkspaceLayout& layout) {
    const BandReduction r =
        band_reduction_workspace(layout, backend.limits(), dtype, batch, m, n, m, n, tile_rows);
    const MatrixBatch q = take_matrix(layout, dtype, batch, m, m);
    const MatrixBatch p = take_matrix(layout, dtype, batch, n, n);
    return std::make_tuple(r, q, p);
  });
  host.load<T>(r.a, inputs);
  enqueue_band_reduction(backend, r);
  enqueue_set_identity(backend, q, 0);
  enqueue_apply_band_q(backend, r, q);
  enqueue_set_identity(backend, p, 0);
  enqueue_apply_band_p(backend, r, p);
  std::vector<BandRun> runs(batch);
  for (uint32_t b = 0; b < batch; ++b) {
    BandRun& run = runs[b];
    const MatrixXd upper = host.read<T>(sub_block(r.a, 0, 0, n, n), b);
    run.band = upper.triangularView<Eigen::Upper>();
    for (uint32_t j = r.band + 1; j < n; ++j)
      run.band.col(j).head(j - r.band).setZero();  // beyond the band: scratch
    run.q = host.read<T>(q, b);
    run.p = host.read<T>(p, b);
  }
  return runs;
}

void expect_band(const MatrixXd& a, const BandRun& run, double tol, const std::string& what) {
  const auto m = a.rows(), n = a.cols();
  const double scale = std::max(a.norm(), 1.0);
  EXPECT_LE((run.q.transpose() * run.q - MatrixXd::Identity(m, m)).cwiseAbs().maxCoeff(), tol)
      << what << ": Q";
  EXPECT_LE((run.p.transpose() * run.p - MatrixXd::Identity(n, n)).cwiseAbs().maxCoeff(), tol)
      << what << ": P";
  // Q^T A P: the band where the workspace has it, zeros everywhere else (rows >= n too).
  MatrixXd expected = MatrixXd::Zero(m, n);
  expected.topRows(n) = run.band;
  const MatrixXd b = run.q.transpose() * a * run.p;
  EXPECT_LE((b - expected).cwiseAbs().maxCoeff() / scale, tol) << what << ": Q^T A P";
}

// Several column blocks, a last row panel narrower than the band (fewer reflectors than rows),
// a row panel of one column, no row panel at all, square and tall, and tiles that make trees.
TEST(BandReduction, QtAPIsBanded) {
  std::mt19937_64 rng(5);
  struct Case {
    uint32_t rows, cols, tile_rows;
  };
  for (const Case c : {Case{300, 200, 0}, Case{150, 150, 64}, Case{100, 40, 0}, Case{64, 33, 0},
                       Case{40, 20, 0}, Case{260, 97, 64}}) {
    const std::string what = std::to_string(c.rows) + "x" + std::to_string(c.cols);
    const MatrixXd a = testing::gaussian(c.rows, c.cols, rng);
    for (uint64_t seed : {1u, 2u}) {
      expect_band(a, run_band<float>({a}, seed, c.tile_rows)[0], 3e-6, what + " f32");
      expect_band(a, run_band<double>({a}, seed)[0], 1e-14, what + " f64");
    }
  }
}

// Zero and repeated columns (panels of lower rank), a zero matrix, a batch of two.
TEST(BandReduction, RankDeficientAndBatched) {
  std::mt19937_64 rng(9);
  MatrixXd special = testing::gaussian(180, 120, rng);
  special.col(3).setZero();
  special.middleCols(40, 30).setZero();
  special.col(90) = special.col(2);
  special.row(5).setZero();
  const MatrixXd other = testing::gaussian(180, 120, rng);
  const MatrixXd zero = MatrixXd::Zero(100, 70);
  for (uint64_t seed : {1u, 3u}) {
    const std::vector<BandRun> runs = run_band<float>({special, other}, seed);
    expect_band(special, runs[0], 3e-6, "special");
    expect_band(other, runs[1], 3e-6, "batch");
    expect_band(zero, run_band<float>({zero}, seed)[0], 3e-6, "zero");
  }
}

}  // namespace
}  // namespace metalsvd
