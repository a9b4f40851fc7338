// The second stage of the two-stage bidiagonalisation (core/band_bidiagonal.h) on the cpu
// emulator: the bidiagonal it leaves has the band matrix's singular values (both factored by
// Eigen in double precision), alone and after the first stage (core/band_reduction.h).
#include "core/band_bidiagonal.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "core/band_reduction.h"
#include "core/column_major.h"
#include "core/workspace_kernels.h"
#include "kernels/band_bidiagonal.h"
#include "limited_backend.h"
#include "svd_runner.h"
#include "test_matrices.h"
#include "workspace_runner.h"

namespace metalsvd {
namespace {

using testing::MatrixXd;
using testing::VectorXd;

VectorXd singular_values(const MatrixXd& a) {
  return Eigen::JacobiSVD<MatrixXd>(a).singularValues();
}

// The n x n upper bidiagonal of d and e.
MatrixXd bidiagonal(const std::vector<double>& d, const std::vector<double>& e) {
  const auto n = static_cast<Eigen::Index>(d.size());
  MatrixXd b = MatrixXd::Zero(n, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    b(i, i) = d[i];
    if (i + 1 < n) b(i, i + 1) = e[i];
  }
  return b;
}

// Reduces every matrix of `inputs` (square upper band matrices with `band` superdiagonals, or
// with `first_stage` any tall matrices, banded first) and returns each bidiagonal.
template <typename T>
std::vector<MatrixXd> run_bidiagonal(const std::vector<MatrixXd>& inputs, uint32_t band,
                                     uint64_t seed, bool first_stage) {
  constexpr ScalarType dtype = testing::Storage<T>::type;
  CpuBackend backend(testing::emulator(seed));
  const uint32_t batch = static_cast<uint32_t>(inputs.size());
  const uint32_t m = static_cast<uint32_t>(inputs[0].rows());
  const uint32_t n = static_cast<uint32_t>(inputs[0].cols());
  testing::HostWorkspace host;
  const auto [r, a, w] = host.take([&](WorkspaceLayout& layout) {
    BandReduction r;
    MatrixBatch a;
    if (first_stage) {
      r = band_reduction_workspace(layout, backend.limits(), dtype, batch, m, n, 0, 0);
      a = r.a;
    } else {
      a = take_matrix(layout, dtype, batch, m, n);
    }
    const BandBidiagonal w =
        band_bidiagonal_workspace(layout, dtype, batch, n, first_stage ? r.band : band);
    return std::make_tuple(r, a, w);
  });
  host.load<T>(a, inputs);
  if (first_stage) enqueue_band_reduction(backend, r);
  enqueue_band_bidiagonal(backend, w, a);
  const BidiagonalDiagonals de = band_bidiagonal_diagonals(w);
  // d and e as two 1 x n rows of a matrix with de.batch_stride elements a matrix.
  const MatrixBatch d{de.data, dtype, batch, 1, n, de.batch_stride, 1, 1};
  const MatrixBatch e{advanced(de.data, uint64_t{de.e_offset} * sizeof(T)),
                      dtype,
                      batch,
                      1,
                      n - 1,
                      de.batch_stride,
                      1,
                      1};
  std::vector<MatrixXd> out;
  for (uint32_t b = 0; b < batch; ++b) {
    const MatrixXd dd = host.read<T>(d, b);
    const MatrixXd ee = n > 1 ? host.read<T>(e, b) : MatrixXd(1, 0);
    out.push_back(bidiagonal(std::vector<double>(dd.data(), dd.data() + n),
                             std::vector<double>(ee.data(), ee.data() + n - 1)));
  }
  return out;
}

// A random n x n upper band matrix with `band` superdiagonals.
MatrixXd random_band(uint32_t n, uint32_t band, std::mt19937_64& rng) {
  MatrixXd a = testing::gaussian(n, n, rng);
  for (uint32_t j = 0; j < n; ++j)
    for (uint32_t i = 0; i < n; ++i)
      if (i > j || j > i + band) a(i, j) = 0;
  return a;
}

void expect_same_values(const MatrixXd& a, const MatrixXd& bidiagonal, double tol,
                        const std::string& what) {
  const VectorXd expected = singular_values(a);
  const VectorXd got = singular_values(bidiagonal);
  const double scale = std::max(expected.size() > 0 ? expected(0) : 0.0, 1e-300);
  EXPECT_LE((got - expected).cwiseAbs().maxCoeff() / scale, tol) << what;
}

// Kept reflectors: one slot for every task of every sweep, no two the same and none unused, a
// task's sweeps in consecutive slots (the back-transformation walks a block's so).
TEST(BandBidiagonal, KeptReflectorSlotsAreOneATaskWithoutGaps) {
  struct Case {
    uint32_t n, band;
  };
  for (const Case c :
       {Case{3, 2}, Case{33, 32}, Case{61, 2}, Case{150, 7}, Case{200, 32}, Case{4097, 32}}) {
    const int64_t total = kernels::band_reflector_slots(c.n, c.band);
    std::vector<int> used(static_cast<size_t>(total), 0);
    for (uint32_t s = 0; s < kernels::band_sweeps(c.n); ++s)
      for (uint32_t k = 0; k < kernels::band_sweep_tasks(c.n, c.band, s); ++k) {
        const int64_t slot = kernels::band_reflector_slot(c.n, c.band, s, k);
        ASSERT_GE(slot, 0);
        ASSERT_LT(slot, total) << c.n << " band " << c.band << ": sweep " << s << " task " << k;
        ++used[static_cast<size_t>(slot)];
        if (s > 0) {  // sweep s - 1 has every task sweep s has
          EXPECT_EQ(slot, kernels::band_reflector_slot(c.n, c.band, s - 1, k) + 1);
        }
      }
    for (int64_t slot = 0; slot < total; ++slot) {
      EXPECT_EQ(used[static_cast<size_t>(slot)], 1) << c.n << " band " << c.band << ": " << slot;
    }
  }
}

// Bands of 32 (a lane a column), of an odd width, of 2; matrices of fewer rows than the band,
// of one and two rows, and long enough for many sweeps at once.
TEST(BandBidiagonal, KeepsTheSingularValues) {
  std::mt19937_64 rng(3);
  struct Case {
    uint32_t n, band;
  };
  for (const Case c : {Case{200, 32}, Case{97, 32}, Case{150, 7}, Case{60, 2}, Case{20, 32},
                       Case{33, 32}, Case{1, 32}, Case{2, 1}, Case{3, 2}}) {
    const std::string what = std::to_string(c.n) + " band " + std::to_string(c.band);
    const MatrixXd a = random_band(c.n, std::min(c.band, c.n), rng);
    for (uint64_t seed : {1u, 2u}) {
      expect_same_values(a, run_bidiagonal<float>({a}, c.band, seed, false)[0], 2e-6,
                         what + " f32");
      expect_same_values(a, run_bidiagonal<double>({a}, c.band, seed, false)[0], 1e-13,
                         what + " f64");
    }
  }
}

// Zero rows and columns inside the band (reflectors with nothing to clear), a batch.
TEST(BandBidiagonal, RankDeficientBandsAndBatches) {
  std::mt19937_64 rng(4);
  MatrixXd a = random_band(120, 32, rng);
  a.row(10).setZero();
  a.col(50).setZero();
  a.block(70, 70, 20, 20).setZero();
  const MatrixXd other = random_band(120, 32, rng);
  for (uint64_t seed : {1u, 3u}) {
    const std::vector<MatrixXd> runs = run_bidiagonal<float>({a, other}, 32, seed, false);
    expect_same_values(a, runs[0], 2e-6, "zero rows and columns");
    expect_same_values(other, runs[1], 2e-6, "batch");
  }
}

// Both stages on dense matrices: the bidiagonal's values are A's.
TEST(BandBidiagonal, AfterTheFirstStage) {
  std::mt19937_64 rng(6);
  for (const auto& shape :
       {std::make_pair(300u, 200u), std::make_pair(130u, 130u), std::make_pair(90u, 40u)}) {
    const MatrixXd a = testing::gaussian(shape.first, shape.second, rng);
    const std::string what = std::to_string(shape.first) + "x" + std::to_string(shape.second);
    expect_same_values(a, run_bidiagonal<float>({a}, 0, 1, true)[0], 2e-6, what + " f32");
    expect_same_values(a, run_bidiagonal<double>({a}, 0, 2, true)[0], 1e-13, what + " f64");
  }
}

struct ChaseRun {
  MatrixXd bidiagonal;
  MatrixXd q;  // Q2 and P2, n x n
  MatrixXd p;
};

// The chase of band matrices with its reflectors kept, and Q2, P2 applied to the identity: Q2
// stored by columns, P2 by rows; the back-transformation's threads bounded by `threads` (0:
// the emulator's); the backend telling the groups it runs at once through `concurrent` (unset:
// it cannot tell); the back-transformation's threads a group to `*launched`.
template <typename T>
std::vector<ChaseRun> run_chase(const std::vector<MatrixXd>& inputs, uint32_t band, uint64_t seed,
                                uint32_t threads = 0,
                                std::function<uint64_t(uint32_t)> concurrent = {},
                                uint32_t* launched = nullptr) {
  constexpr ScalarType dtype = testing::Storage<T>::type;
  const std::string back_transform = workspace_kernel_name("band_back_transform", dtype);
  std::map<std::string, uint32_t> limits;
  if (threads != 0) limits[back_transform] = threads;
  testing::LimitedBackend backend(limits, testing::emulator(seed));
  backend.concurrent = std::move(concurrent);
  const uint32_t batch = static_cast<uint32_t>(inputs.size());
  const uint32_t n = static_cast<uint32_t>(inputs[0].cols());
  testing::HostWorkspace host;
  const auto [a, w, q, p] = host.take([&](WorkspaceLayout& layout) {
    const MatrixBatch a = take_matrix(layout, dtype, batch, n, n);
    const BandBidiagonal w = band_bidiagonal_workspace(layout, dtype, batch, n, band, true);
    const MatrixBatch q = take_matrix(layout, dtype, batch, n, n);
    const MatrixBatch p = take_matrix(layout, dtype, batch, n, n);
    return std::make_tuple(a, w, q, p);
  });
  host.load<T>(a, inputs);
  enqueue_band_bidiagonal(backend, w, a);
  enqueue_set_identity(backend, q, 0);
  enqueue_band_back_transform(backend, w, BandSide::left, q);
  enqueue_set_identity(backend, p, 0);
  enqueue_band_back_transform(backend, w, BandSide::right, transposed(p));
  const BidiagonalDiagonals de = band_bidiagonal_diagonals(w);
  std::vector<ChaseRun> runs(batch);
  for (uint32_t b = 0; b < batch; ++b) {
    std::vector<double> d(n), e(n - 1);
    for (uint32_t i = 0; i < n; ++i)
      d[i] = host.at<T>(MatrixBatch{de.data, dtype, batch, 1, n, de.batch_stride, 1, 1}, b, 0, i);
    for (uint32_t i = 0; i + 1 < n; ++i)
      e[i] = host.at<T>(MatrixBatch{de.data, dtype, batch, 1, n, de.batch_stride, 1, 1}, b, 0,
                        de.e_offset + i);
    runs[b] = {bidiagonal(d, e), host.read<T>(q, b), host.read<T>(p, b).transpose()};
  }
  if (launched != nullptr) *launched = backend.launched(back_transform);
  return runs;
}

void expect_chase(const MatrixXd& a, const ChaseRun& run, double tol, const std::string& what) {
  const auto n = a.cols();
  const double scale = std::max(a.norm(), 1.0);
  EXPECT_LE((run.q.transpose() * run.q - MatrixXd::Identity(n, n)).cwiseAbs().maxCoeff(), tol)
      << what << ": Q2";
  EXPECT_LE((run.p.transpose() * run.p - MatrixXd::Identity(n, n)).cwiseAbs().maxCoeff(), tol)
      << what << ": P2";
  EXPECT_LE((run.q.transpose() * a * run.p - run.bidiagonal).cwiseAbs().maxCoeff() / scale, tol)
      << what << ": Q2^T B P2";
}

// The back-transformation: Q2^T B P2 is the bidiagonal, Q2 and P2 orthogonal, for bands of 32,
// of an odd width and of 2; blocks cut short at the bottom; a last slice of fewer columns;
// groups of sweeps in one chunk of stages and in several (the threads bounded to 2 or 1
// stages).
TEST(BandBidiagonal, ReflectorsAppliedBack) {
  std::mt19937_64 rng(8);
  struct Case {
    uint32_t n, band, threads;
  };
  for (const Case c : {Case{200, 32, 0}, Case{200, 32, 64}, Case{150, 7, 0}, Case{150, 7, 32},
                       Case{61, 2, 0}, Case{33, 32, 0}, Case{3, 2, 0}}) {
    const std::string what = std::to_string(c.n) + " band " + std::to_string(c.band) + " threads " +
                             std::to_string(c.threads);
    const MatrixXd a = random_band(c.n, std::min(c.band, c.n), rng);
    const MatrixXd other = random_band(c.n, std::min(c.band, c.n), rng);
    for (uint64_t seed : {1u, 2u}) {
      const std::vector<ChaseRun> runs = run_chase<float>({a, other}, c.band, seed, c.threads);
      expect_chase(a, runs[0], 3e-6, what + " f32");
      expect_chase(other, runs[1], 3e-6, what + " f32 batch");
      expect_chase(a, run_chase<double>({a}, c.band, seed, c.threads)[0], 1e-13, what + " f64");
    }
  }
}

// The stages a group of the back-transformation, where the device tells how many groups it runs
// at once: on an H100 (132 multiprocessors, each holding 16 SIMD groups of this kernel) 16
// stages for the 128 slices of 4096 columns and the 384 of 12288, 8 for the 192 of 6144 and
// the 256 of 8192, as timed (bench/results/2026-12-07_nvidia-h100_back_transform_stages.txt);
// where it cannot tell, the most the groups of sweeps allow.
TEST(BandBidiagonal, BackTransformStagesFromTheDevicesConcurrency) {
  const auto h100 = [](uint32_t stages) { return uint64_t{132} * (16 / stages); };
  EXPECT_EQ(band_back_transform_stages(4096, 32, 128, 16, h100), 16u);
  EXPECT_EQ(band_back_transform_stages(6144, 32, 192, 16, h100), 8u);
  EXPECT_EQ(band_back_transform_stages(8192, 32, 256, 16, h100), 8u);
  EXPECT_EQ(band_back_transform_stages(12288, 32, 384, 16, h100), 16u);
  const auto unknown = [](uint32_t) { return uint64_t{0}; };
  EXPECT_EQ(band_back_transform_stages(8192, 32, 256, 16, unknown), 16u);
  EXPECT_EQ(band_back_transform_stages(100, 32, 4, 16, unknown), 4u);  // 4 groups of sweeps
  EXPECT_EQ(band_back_transform_stages(100, 32, 4, 16, h100), 4u);
  EXPECT_EQ(band_back_transform_stages(8192, 32, 256, 2, h100), 2u);  // at most `most`

  // Through the backend: a device of two multiprocessors, each holding 512 threads, takes the
  // 10 groups (2 matrices, 5 slices) of 150 columns in fewer stages than 16, and the product
  // is as right.
  std::mt19937_64 rng(9);
  const MatrixXd a = random_band(150, 7, rng), other = random_band(150, 7, rng);
  const auto device = [](uint32_t threads) { return uint64_t{2} * (512 / threads); };
  const uint32_t stages = band_back_transform_stages(
      150, 7, 10, 16, [&](uint32_t s) { return device(s * kernels::kSimdWidth); });
  ASSERT_LT(stages, 16u);
  uint32_t launched = 0;
  const std::vector<ChaseRun> runs = run_chase<float>({a, other}, 7, 1, 0, device, &launched);
  EXPECT_EQ(launched, stages * kernels::kSimdWidth);
  expect_chase(a, runs[0], 3e-6, "fewer stages");
  expect_chase(other, runs[1], 3e-6, "fewer stages, batch");
}

}  // namespace
}  // namespace metalsvd
