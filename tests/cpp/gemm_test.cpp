// The backend GEMM contract on the cpu backend against Eigen: every BLAS layout of each operand,
// repeated operands (batch stride 0), beta, and the checks that refuse bad operands.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <random>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "core/errors.h"

namespace metalsvd {
namespace {

using Eigen::MatrixXd;

// `batch` rows x cols matrices in `storage`, row- or column-major, batch_stride apart.
MatrixBatch view(std::vector<double>& storage, uint32_t batch, uint32_t rows, uint32_t cols,
                 bool column_major, int64_t batch_stride) {
  MatrixBatch m;
  m.data.handle = storage.data();
  m.dtype = ScalarType::f64;
  m.batch = batch;
  m.rows = rows;
  m.cols = cols;
  m.batch_stride = batch_stride;
  m.row_stride = column_major ? 1 : cols;
  m.col_stride = column_major ? rows : 1;
  return m;
}

MatrixXd read(const std::vector<double>& storage, const MatrixBatch& m, uint32_t b) {
  MatrixXd x(m.rows, m.cols);
  for (uint32_t i = 0; i < m.rows; ++i)
    for (uint32_t j = 0; j < m.cols; ++j)
      x(i, j) = storage[b * m.batch_stride + i * m.row_stride + j * m.col_stride];
  return x;
}

TEST(Gemm, EveryLayoutMatchesEigen) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal;
  CpuBackend backend;
  const uint32_t batch = 3, m = 5, k = 4, n = 6;
  for (int layout = 0; layout < 8; ++layout) {
    std::vector<double> a(batch * m * k), b(k * n), c(batch * m * n);
    for (double& x : a) x = normal(rng);
    for (double& x : b) x = normal(rng);
    for (double& x : c) x = normal(rng);
    const MatrixBatch av = view(a, batch, m, k, layout & 1, m * k);
    const MatrixBatch bv = view(b, batch, k, n, layout & 2, 0);  // one b for the whole batch
    const MatrixBatch cv = view(c, batch, m, n, layout & 4, m * n);
    std::vector<MatrixXd> expected;
    for (uint32_t i = 0; i < batch; ++i)
      expected.push_back(2.0 * read(a, av, i) * read(b, bv, 0) - 0.5 * read(c, cv, i));
    backend.gemm({av, bv, cv, 2.0, -0.5});
    for (uint32_t i = 0; i < batch; ++i)
      EXPECT_LE((read(c, cv, i) - expected[i]).cwiseAbs().maxCoeff(), 1e-12) << layout;
  }
}

TEST(Gemm, BetaZeroIgnoresNanInC) {
  CpuBackend backend;
  std::vector<double> a = {1, 2, 3, 4}, b = {1, 0, 0, 1};
  std::vector<double> c(4, std::numeric_limits<double>::quiet_NaN());
  const MatrixBatch av = view(a, 1, 2, 2, true, 4), bv = view(b, 1, 2, 2, true, 4),
                    cv = view(c, 1, 2, 2, true, 4);
  backend.gemm({av, bv, cv, 1.0, 0.0});
  EXPECT_EQ(c, a);
}

TEST(Gemm, RefusesBadOperands) {
  CpuBackend backend;
  std::vector<double> a(16), b(16), c(16);
  const MatrixBatch av = view(a, 1, 4, 4, true, 16), bv = view(b, 1, 4, 4, true, 16);
  MatrixBatch cv = view(c, 1, 4, 4, true, 16);
  EXPECT_THROW(backend.gemm({av, bv, av, 1.0, 0.0}), Error);  // c overlaps a
  MatrixBatch strided = cv;
  strided.row_stride = 2;
  strided.col_stride = 8;
  EXPECT_THROW(backend.gemm({av, bv, strided, 1.0, 0.0}), Error);  // no unit stride
  MatrixBatch wrong = cv;
  wrong.cols = 3;
  EXPECT_THROW(backend.gemm({av, bv, wrong, 1.0, 0.0}), Error);  // shapes
  MatrixBatch half = cv;
  half.dtype = ScalarType::f16;
  EXPECT_THROW(backend.gemm({av, bv, half, 1.0, 0.0}), Error);  // not a compute type
}

}  // namespace
}  // namespace metalsvd
