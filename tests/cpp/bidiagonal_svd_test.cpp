// The bidiagonal divide and conquer on its own (against Eigen on the bidiagonal matrix), and
// the whole SVD by bidiagonalisation and divide and conquer through the plan, on the cpu
// backend (threadgroup emulator) under several schedules.
#include "core/bidiagonal_svd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/bidiagonal_dc.h"
#include "core/bidiagonal_reduction.h"
#include "core/column_major.h"
#include "core/errors.h"
#include "kernels/bidiagonal_reduction.h"
#include "kernels/bidiagonal_resident.h"
#include "kernels/dc_tree.h"
#include "kernels/workspace_kernel.h"
#include "limited_backend.h"
#include "svd_runner.h"
#include "test_bidiagonals.h"

namespace metalsvd {
namespace {

using testing::Bidiagonal;
using testing::expect_accurate;
using testing::expect_fp32_contract;
using testing::kTolF64;
using testing::LimitedBackend;
using testing::MatrixXd;
using testing::random_bidiagonal;
using testing::run_svd;
using testing::SvdRun;
using testing::VectorXd;

// Reads column-major n x n matrix `which` of a batch from host memory.
template <typename C>
MatrixXd read_matrix(const MatrixBatch& m, uint32_t matrix) {
  const C* base =
      reinterpret_cast<const C*>(static_cast<const char*>(m.data.handle) + m.data.offset) +
      matrix * m.batch_stride;
  MatrixXd out(m.rows, m.cols);
  for (uint32_t j = 0; j < m.cols; ++j)
    for (uint32_t i = 0; i < m.rows; ++i)
      out(i, j) = static_cast<double>(base[i * m.row_stride + j * m.col_stride]);
  return out;
}

struct DcRun {
  MatrixXd u, w;
  VectorXd sigma;
  int32_t status;
};

// The D&C of every matrix (all of one size) in one call.
template <typename C>
std::vector<DcRun> run_dc(const std::vector<Bidiagonal>& inputs, uint64_t seed,
                          uint32_t gemm_rows = kDcGemmRows) {
  const uint32_t batch = static_cast<uint32_t>(inputs.size());
  const uint32_t n = static_cast<uint32_t>(inputs[0].d.size());
  const ScalarType type = std::is_same<C, double>::value ? ScalarType::f64 : ScalarType::f32;
  std::vector<C> de = testing::packed_diagonals<C>(inputs);
  const uint32_t state_stride = kernels::kStatePairFlags;
  std::vector<int32_t> state(size_t{batch} * state_stride, 0);
  WorkspaceLayout sizing;
  dc_workspace(sizing, type, batch, n);
  std::vector<unsigned char> workspace(sizing.bytes() + 1);
  WorkspaceLayout layout(Buffer{workspace.data(), 0});
  const DcWorkspace ws = dc_workspace(layout, type, batch, n);
  emu::EmulatorOptions options;
  options.schedule_seed = seed;
  CpuBackend backend(options);
  DcInput input;
  input.d = Buffer{de.data(), 0};
  input.batch_stride = 2 * n;
  input.e_offset = n;
  const DcResult r = enqueue_bidiagonal_dc(backend, ws, type, batch, n, input,
                                           Buffer{state.data(), 0}, state_stride, gemm_rows);
  std::vector<DcRun> runs(batch);
  for (uint32_t b = 0; b < batch; ++b) {
    runs[b].u = read_matrix<C>(r.u, b);
    runs[b].w = read_matrix<C>(r.w, b);
    runs[b].sigma = read_matrix<C>(r.sigma, b).row(0).transpose();
    runs[b].status = state[b * state_stride + kernels::kStateStatus];
  }
  return runs;
}

// The singular values of b from Eigen's Jacobi SVD in long double: in double it is off by
// 2e-14 on the all-ones bidiagonal of 48 rows (its exact values are 2 cos(k pi / (2n + 1))),
// more than the float64 D&C's error.
VectorXd reference_singular_values(const MatrixXd& b) {
  using MatrixXld = Eigen::Matrix<long double, Eigen::Dynamic, Eigen::Dynamic>;
  const Eigen::JacobiSVD<MatrixXld> svd(b.cast<long double>());
  return svd.singularValues().cast<double>();
}

void expect_dc_accurate(const Bidiagonal& input, const DcRun& run, double tol,
                        const std::string& what) {
  const MatrixXd b = input.dense();
  const testing::SvdErrors e = testing::svd_errors(b, run.u, run.sigma, run.w);
  const VectorXd reference = reference_singular_values(b);
  const double scale = reference(0) > 0 ? reference(0) : 1.0;
  const double sigma_error = (run.sigma - reference).cwiseAbs().maxCoeff() / scale;
  EXPECT_EQ(run.status, kernels::kSvdConverged) << what;
  EXPECT_TRUE(e.sorted) << what;
  EXPECT_LE(sigma_error, tol) << what;
  EXPECT_LE(e.u_orthogonality, tol * 4) << what;
  EXPECT_LE(e.v_orthogonality, tol * 4) << what;
  EXPECT_LE(e.reconstruction, tol * 4) << what;
}

// float32: a few ulps of the largest singular value (the merges' deflation tolerance is 8
// unit roundoffs); float64 likewise.
constexpr double kDcTolF32 = 1e-6;
constexpr double kDcTolF64 = 2e-15;

class DcSchedules : public ::testing::TestWithParam<uint64_t> {};

TEST_P(DcSchedules, RandomBidiagonalsOfEverySmallSize) {
  std::mt19937_64 rng(101);
  for (int n : {1, 2, 3, 4, 5, 6, 7, 8, 13, 16, 31, 32, 33, 64, 100}) {
    const std::vector<Bidiagonal> in = {random_bidiagonal(n, rng), random_bidiagonal(n, rng)};
    const auto runs = run_dc<float>(in, GetParam());
    for (size_t b = 0; b < in.size(); ++b)
      expect_dc_accurate(in[b], runs[b], kDcTolF32, "n " + std::to_string(n));
  }
}

// Deflation of every kind: zeros on the diagonal (zero singular values, z entries that vanish),
// a zero superdiagonal (the matrix splits), all singular values equal (every d deflates by
// rotation), a zero matrix, a graded one, and a cluster closer than the tolerance.
TEST_P(DcSchedules, DeflationCases) {
  std::mt19937_64 rng(103);
  const int n = 48;
  std::vector<Bidiagonal> cases;
  Bidiagonal zero_diagonal = random_bidiagonal(n, rng);
  for (int i = 0; i < n; i += 3) zero_diagonal.d[i] = 0.0;
  cases.push_back(zero_diagonal);
  Bidiagonal split = random_bidiagonal(n, rng);
  for (int i = 0; i + 1 < n; i += 4) split.e[i] = 0.0;
  cases.push_back(split);
  cases.push_back({std::vector<double>(n, 1.0), std::vector<double>(n - 1, 0.0)});
  cases.push_back({std::vector<double>(n, 0.0), std::vector<double>(n - 1, 0.0)});
  Bidiagonal graded;
  for (int i = 0; i < n; ++i) graded.d.push_back(std::pow(10.0, -12.0 * i / (n - 1)));
  for (int i = 0; i + 1 < n; ++i) graded.e.push_back(0.5 * graded.d[i + 1]);
  cases.push_back(graded);
  cases.push_back({std::vector<double>(n, 1.0), std::vector<double>(n - 1, 1.0)});
  Bidiagonal cluster;
  std::normal_distribution<double> normal;
  for (int i = 0; i < n; ++i) cluster.d.push_back(1.0 + 1e-9 * normal(rng));
  for (int i = 0; i + 1 < n; ++i) cluster.e.push_back(1e-8 * normal(rng));
  cases.push_back(cluster);
  const char* names[] = {"zero diagonal", "split", "identity", "zero", "graded", "ones", "cluster"};
  for (size_t c = 0; c < cases.size(); ++c) {
    expect_dc_accurate(cases[c], run_dc<float>({cases[c]}, GetParam())[0], kDcTolF32, names[c]);
    expect_dc_accurate(cases[c], run_dc<double>({cases[c]}, GetParam())[0], kDcTolF64,
                       std::string(names[c]) + " f64");
  }
}

// Nodes large enough take their vectors from the backend's GEMM: with the threshold at 8 rows
// the top levels of a 100 x 100 problem do.
TEST_P(DcSchedules, GemmLevelsMeetTheContract) {
  std::mt19937_64 rng(107);
  const std::vector<Bidiagonal> in = {random_bidiagonal(100, rng), random_bidiagonal(100, rng)};
  const auto gemm = run_dc<float>(in, GetParam(), 8);
  const auto kernel = run_dc<double>(in, GetParam(), 8);
  for (size_t b = 0; b < in.size(); ++b) {
    expect_dc_accurate(in[b], gemm[b], kDcTolF32, "gemm levels");
    expect_dc_accurate(in[b], kernel[b], kDcTolF64, "gemm levels f64");
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, DcSchedules, ::testing::Values(1u, 2u, 3u));

TEST(DcTree, ColumnsOfEveryLevelPartitionTheMatrix) {
  for (uint32_t n : {1u, 2u, 3u, 10u, 33u, 100u}) {
    const uint32_t levels = kernels::dc_levels(n);
    for (uint32_t level = 0; level < levels; ++level) {
      std::vector<int> owner(n, -1);
      for (uint32_t index = 0; index < (1u << level); ++index) {
        const kernels::DcNode node = kernels::dc_node_at(n, level, index);
        EXPECT_LE(node.rows, kernels::dc_max_rows(n, level));
        for (uint32_t c = node.r0; c < node.r0 + kernels::dc_columns(node); ++c) {
          ASSERT_LT(c, n);
          EXPECT_EQ(owner[c], -1) << "column " << c << " twice at level " << level;
          owner[c] = static_cast<int>(index);
          const kernels::DcColumnOwner found = kernels::dc_node_of_column(n, level, c);
          EXPECT_EQ(found.index, index);
        }
      }
      for (uint32_t c = 0; c < n; ++c) EXPECT_NE(owner[c], -1) << "column " << c << " unowned";
    }
    // The deepest level has only nodes of at most one row.
    EXPECT_LE(kernels::dc_max_rows(n, levels - 1), 1u);
  }
}

// The whole SVD by divide and conquer beyond what the shared any-size tests cover
// (jacobi_small_test.cpp): panels of 32 columns, so 33 and 65 columns cross a panel boundary,
// tiny and vector shapes, repeated values, a zero column block and the identity (every value
// deflates), with the vectors of large nodes by GEMM (gemm_rows 16), under each schedule.
TEST(DcSvd, PanelBoundariesVectorsAndDeflatingMatrices) {
  std::mt19937_64 rng(109);
  SvdTuning t;
  t.algorithm = SvdAlgorithm::bidiagonal_dc;
  t.bidiagonal.gemm_rows = 16;
  VectorXd repeated(36);
  for (int i = 0; i < 36; ++i) repeated(i) = 3.0 - i / 12;
  MatrixXd zero_block = testing::gaussian(50, 40, rng);
  zero_block.middleCols(10, 12).setZero();
  const std::vector<std::pair<std::string, MatrixXd>> cases = {
      {"65x33", testing::gaussian(65, 33, rng)},
      {"33x65", testing::gaussian(33, 65, rng)},
      {"1x1", testing::gaussian(1, 1, rng)},
      {"5x1", testing::gaussian(5, 1, rng)},
      {"1x5", testing::gaussian(1, 5, rng)},
      {"repeated", testing::with_singular_values(36, 36, repeated, rng)},
      {"zero column block", zero_block},
      {"identity", MatrixXd::Identity(25, 25)}};
  // The GEMV kernels throughout (tail 0), a tail from the second panel on where there is one
  // (40: 65x33 from column 32, 50x40 from 32), and the plan's (these sizes: all tail).
  for (int32_t tail : {0, 40, -1})
    for (uint64_t seed : {1u, 2u, 3u})
      for (const auto& [what, a] : cases) {
        t.bidiagonal.reduction_tail = tail;
        expect_fp32_contract(
            run_svd<float>({a}, seed, 32 * 1024, t)[0],
            what + " tail " + std::to_string(tail) + " seed " + std::to_string(seed));
      }
}

// Where the tail starts: the first panel boundary with at most tail^2 elements left.
TEST(DcSvd, TailStartsWhereTheTrailingMatrixIsSmallEnough) {
  EXPECT_TRUE(bidiagonal_tail_from(128, 128, 128));
  EXPECT_FALSE(bidiagonal_tail_from(129, 128, 128));
  EXPECT_TRUE(bidiagonal_tail_from(1024, 16, 128));  // tall: by elements, not columns
  EXPECT_FALSE(bidiagonal_tail_from(1, 1, 0));       // 0: never
  EXPECT_FALSE(bidiagonal_tail_from(1025, 1025, 1024));
}

// The plan's two stages: for float32 matrices from kTwoStageValuesCols columns for the values
// alone and from kTwoStageVectorsCols with vectors, never in float64 unless asked for;
// two_stage 0 and 1 override the rule. With vectors, two stages won on an H100 at 6144^2 and lost
// at 5120^2 (kTwoStageVectorsCols' comment).
TEST(DcSvd, TwoStagesForLargeFloat32Matrices) {
  const BidiagonalSvdPlan plan;  // two_stage -1: the plan's
  for (const bool vectors : {false, true}) {
    const uint32_t large = vectors ? kTwoStageVectorsCols : kTwoStageValuesCols;
    EXPECT_TRUE(two_stage_reduction(plan, vectors, ScalarType::f32, large));
    EXPECT_FALSE(two_stage_reduction(plan, vectors, ScalarType::f32, large - 1));
    EXPECT_FALSE(two_stage_reduction(plan, vectors, ScalarType::f64, large));
  }
  EXPECT_TRUE(two_stage_reduction(plan, true, ScalarType::f32, 6144));
  EXPECT_FALSE(two_stage_reduction(plan, true, ScalarType::f32, 5120));
  BidiagonalSvdPlan forced;
  forced.two_stage = 1;
  EXPECT_TRUE(two_stage_reduction(forced, true, ScalarType::f64, 3));
  forced.two_stage = 0;
  EXPECT_FALSE(two_stage_reduction(forced, false, ScalarType::f32, kTwoStageValuesCols));
  EXPECT_FALSE(two_stage_reduction(forced, true, ScalarType::f32, kTwoStageVectorsCols));
}

// The GEMV kernels' threads grow with their groups' size, from 256 to 1024, for either kernel.
TEST(DcSvd, GemvThreadsGrowWithTheGroups) {
  for (BidiagonalStep step : {BidiagonalStep::column, BidiagonalStep::row}) {
    uint32_t previous = 0;
    for (uint64_t elements = 1; elements <= (uint64_t{1} << 24); elements *= 2) {
      const uint32_t threads = bidiagonal_threads(step, elements);
      EXPECT_TRUE(threads == 256 || threads == 512 || threads == 1024) << threads;
      EXPECT_GE(threads, previous) << elements;
      previous = threads;
    }
    EXPECT_EQ(bidiagonal_threads(step, 1), 256u);
    EXPECT_EQ(bidiagonal_threads(step, uint64_t{1} << 24), 1024u);
  }
}

// The bidiagonalisation's GEMV kernels split their columns or rows over however many SIMD
// groups they have (the plan takes 1024 threads for large groups), and their groups narrow as
// the trailing matrix shrinks: every thread count with groups of the largest extent
// throughout (1 group asked for), of every extent in turn (4 asked for: 50 columns take 16
// each, then 8, then 4) and of the smallest (4096 asked for) gives the contract, as do groups
// whose row kernel loads whole passes of columns.
TEST(DcSvd, ReductionAtEveryThreadCountAndGroupExtent) {
  std::mt19937_64 rng(149);
  const MatrixXd a = testing::gaussian(70, 50, rng);
  uint64_t seed = 0;  // a different schedule for every setting
  const auto expect_contract_with = [&seed](const MatrixXd& m, uint32_t threads, uint32_t groups,
                                            const std::string& what) {
    SvdTuning t;
    t.algorithm = SvdAlgorithm::bidiagonal_dc;
    t.bidiagonal.reduction_threads = threads;
    t.bidiagonal.reduction_groups = groups;
    t.bidiagonal.reduction_tail = 0;  // the GEMV kernels to the end
    ++seed;
    expect_fp32_contract(run_svd<float>({m}, seed, 32 * 1024, t)[0],
                         what + ", " + std::to_string(threads) + " threads, " +
                             std::to_string(groups) + " groups, seed " + std::to_string(seed));
  };
  for (uint32_t threads : {256u, 512u, 1024u})
    for (uint32_t groups : {1u, 4u, 4096u}) expect_contract_with(a, threads, groups, "70x50");
  // Wide enough that the row kernel's lanes make whole passes of kBrdUnroll columns (at 256
  // threads and the largest extent a pass is 64 columns, at 512 128) before the partial one.
  const MatrixXd wide_rows = testing::gaussian(150, 130, rng);
  for (uint32_t threads : {256u, 512u}) expect_contract_with(wide_rows, threads, 1, "150x130");
  SvdTuning bad;
  bad.algorithm = SvdAlgorithm::bidiagonal_dc;
  bad.bidiagonal.reduction_threads = 384;
  EXPECT_THROW(run_svd<float>({a}, 1, 32 * 1024, bad), InvalidArgument);
}

// A group's extent halves until a launch has the groups asked for, and no further than the
// smallest; a batch counts every matrix's groups.
TEST(DcSvd, GroupExtentsFillTheLaunch) {
  EXPECT_EQ(bidiagonal_group_extent(4096, 1, 32, 4, 128), 32u);  // 128 groups of 32
  EXPECT_EQ(bidiagonal_group_extent(4095, 1, 32, 4, 128), 32u);
  EXPECT_EQ(bidiagonal_group_extent(2048, 1, 32, 4, 128), 16u);
  EXPECT_EQ(bidiagonal_group_extent(1024, 1, 32, 4, 128), 8u);
  EXPECT_EQ(bidiagonal_group_extent(100, 1, 32, 4, 128), 4u);  // 25 groups: the smallest
  EXPECT_EQ(bidiagonal_group_extent(100, 1, 32, 8, 128), 8u);
  EXPECT_EQ(bidiagonal_group_extent(0, 1, 32, 8, 128), 8u);
  EXPECT_EQ(bidiagonal_group_extent(1024, 4, 32, 4, 128), 32u);  // 4 x 32 groups
  EXPECT_EQ(bidiagonal_group_extent(1024, 1, 32, 4, 1), 32u);
}

// bidiagonal_tail from every kind of start: the whole matrix, after one panel (100x70 with a
// tail of 52: 68x38 left at column 32), only the last columns (15: 36x6 left at 64), with
// the group's threads limited as a Metal pipeline may limit them (96: fewer row blocks than
// SIMD groups early, more late; 32: one SIMD group), a batch with a rank-deficient matrix.
// 64 KiB of threadgroup memory hold the whole 100x70.
TEST(DcSvd, TailFromEveryPanelBoundaryAndThreadCount) {
  std::mt19937_64 rng(157);
  const MatrixXd gaussian = testing::gaussian(100, 70, rng);
  const MatrixXd rank_deficient =
      testing::gaussian(100, 20, rng) * testing::gaussian(20, 70, rng) / 5;
  uint64_t seed = 10;
  for (int32_t tail : {1024, 52, 15})
    for (uint32_t threads : {1024u, 96u, 32u}) {
      SvdTuning t;
      t.algorithm = SvdAlgorithm::bidiagonal_dc;
      t.bidiagonal.reduction_tail = tail;
      emu::EmulatorOptions options;
      options.schedule_seed = ++seed;
      options.threadgroup_memory_bytes = 64 * 1024;
      LimitedBackend backend({{"bidiagonal_tail_f32", threads}}, options);
      const std::vector<SvdRun> runs =
          testing::run_svd_on<float>(backend, {gaussian, rank_deficient}, t);
      const std::string what = "tail " + std::to_string(tail) + ", " + std::to_string(threads) +
                               " threads, seed " + std::to_string(seed);
      expect_fp32_contract(runs[0], "gaussian, " + what);
      expect_fp32_contract(runs[1], "rank 20, " + what);
      EXPECT_EQ(backend.launched("bidiagonal_tail_f32"), threads) << what;
      const uint32_t gemv_columns = tail == 1024 ? 0 : (tail == 52 ? 32 : 64);
      EXPECT_EQ(backend.calls("bidiagonal_column_f32"), gemv_columns) << what;
    }
}

// Where the GEMV kernels load their first share of the trailing matrix, before or after they
// wait for the previous launch, changes only when those loads go out (on CUDA): a device on
// which every launch fits beside the previous one (early loads throughout), one on which none
// does (none), and one of 10 groups (early loads only where two launches' groups add up to 10
// or fewer) give the same factors, bit for bit, and the emulator holds every launch to one wait
// a thread.
TEST(DcSvd, EarlyLoadsChangeNoResult) {
  std::mt19937_64 rng(167);
  const MatrixXd a = testing::gaussian(90, 70, rng);
  const MatrixXd b = testing::gaussian(90, 70, rng);
  SvdTuning t;
  t.algorithm = SvdAlgorithm::bidiagonal_dc;
  t.bidiagonal.reduction_groups = 4;
  t.bidiagonal.reduction_tail = 0;  // the GEMV kernels to the end
  std::vector<std::vector<SvdRun>> runs;
  for (uint64_t concurrent : {uint64_t{1} << 20, uint64_t{1}, uint64_t{10}}) {
    emu::EmulatorOptions options;
    options.schedule_seed = 7;
    LimitedBackend backend({}, options);
    backend.concurrent = [concurrent](uint32_t) { return concurrent; };
    runs.push_back(testing::run_svd_on<float>(backend, {a, b}, t));
    expect_fp32_contract(runs.back()[0], "concurrent " + std::to_string(concurrent));
  }
  for (size_t k = 1; k < runs.size(); ++k)
    for (size_t b = 0; b < 2; ++b) {
      EXPECT_EQ(runs[k][b].s, runs[0][b].s) << k << ", matrix " << b;
      EXPECT_EQ(runs[k][b].u, runs[0][b].u) << k << ", matrix " << b;
      EXPECT_EQ(runs[k][b].v, runs[0][b].v) << k << ", matrix " << b;
    }
}

// The tail starts only where it fits the threadgroup memory: in 16 KiB 100x70 (28 KB) does not,
// the 68x38 left at column 32 (10.3 KB, with the scratch of 1024 threads 15 KB) does.
TEST(DcSvd, TailOnlyWhereItFitsTheThreadgroupMemory) {
  std::mt19937_64 rng(163);
  const MatrixXd a = testing::gaussian(100, 70, rng);
  SvdTuning t;
  t.algorithm = SvdAlgorithm::bidiagonal_dc;
  t.bidiagonal.reduction_tail = 1024;
  emu::EmulatorOptions options;
  options.schedule_seed = 5;
  options.threadgroup_memory_bytes = 16 * 1024;
  LimitedBackend backend({}, options);
  expect_fp32_contract(testing::run_svd_on<float>(backend, {a}, t)[0], "16 KiB");
  EXPECT_EQ(backend.calls("bidiagonal_tail_f32"), 1u);
  EXPECT_EQ(backend.calls("bidiagonal_column_f32"), 32u);
}

// The bidiagonalisation takes its GEMV kernels' threads within their limits, 1024 asked for:
// the column kernel in whole sets of 256 (600 -> 512), the row kernel in SIMD groups.
TEST(DcSvd, ReductionThreadsStayWithinTheKernelsLimits) {
  std::mt19937_64 rng(151);
  const uint32_t m = 70, n = 50;
  const MatrixXd a = testing::gaussian(static_cast<int>(m), static_cast<int>(n), rng);
  std::vector<float> in(size_t{m} * n), u(size_t{m} * n), s(n), v(size_t{n} * n);
  for (uint32_t i = 0; i < m; ++i)
    for (uint32_t j = 0; j < n; ++j) in[i * n + j] = static_cast<float>(a(i, j));
  std::vector<int32_t> info(1, -1);
  LimitedBackend backend({{"bidiagonal_column_f32", 600}, {"bidiagonal_row_f32", 320}});
  const MatrixBatch input = testing::row_major_batch(in.data(), ScalarType::f32, 1, m, n);
  SvdOutputs out;
  out.u = testing::row_major_batch(u.data(), ScalarType::f32, 1, m, n);
  out.v = testing::row_major_batch(v.data(), ScalarType::f32, 1, n, n);
  out.s = {Buffer{s.data(), 0}, ScalarType::f32, 1, n, n, 1};
  out.info = Buffer{info.data(), 0};
  SvdTuning t;
  t.algorithm = SvdAlgorithm::bidiagonal_dc;
  t.bidiagonal.reduction_threads = 1024;
  t.bidiagonal.reduction_tail = 0;  // the GEMV kernels to the end
  std::vector<unsigned char> workspace(svd_workspace_bytes(backend, input, false, t) + 1);
  svd(backend, input, false, out, Buffer{workspace.data(), 0}, t);
  EXPECT_EQ(backend.launched("bidiagonal_column_f32"), 512u);
  EXPECT_EQ(backend.launched("bidiagonal_row_f32"), 320u);
  EXPECT_EQ(info[0], kernels::kSvdConverged);
  const MatrixXd rounded = a.cast<float>().cast<double>();
  const VectorXd reference = Eigen::JacobiSVD<MatrixXd>(rounded).singularValues();
  double error = 0;
  for (uint32_t j = 0; j < n; ++j) error = std::max(error, std::abs(s[j] - reference(j)));
  EXPECT_LE(error / reference(0), testing::kSigmaTolF32);
}

TEST(DcSvd, HalfAndBfloat16ComputeInFp32) {
  std::mt19937_64 rng(131);
  const MatrixXd a = testing::gaussian(40, 34, rng);
  SvdTuning t;
  t.algorithm = SvdAlgorithm::bidiagonal_dc;
  expect_accurate(run_svd<kernels::half_t>({a}, 1, 32 * 1024, t)[0], 2e-3, 4e-3, 4e-3, "f16");
  expect_accurate(run_svd<kernels::bfloat16_t>({a}, 1, 32 * 1024, t)[0], 2e-2, 3e-2, 3e-2, "bf16");
}

TEST(DcSvd, NonFiniteInputGivesNanOnlyForThatMatrix) {
  std::mt19937_64 rng(137);
  MatrixXd bad = testing::gaussian(40, 36, rng);
  bad(3, 4) = std::numeric_limits<double>::quiet_NaN();
  MatrixXd infinite = testing::gaussian(40, 36, rng);
  infinite(0, 0) = std::numeric_limits<double>::infinity();
  SvdTuning t;
  t.algorithm = SvdAlgorithm::bidiagonal_dc;
  const auto runs =
      run_svd<float>({testing::gaussian(40, 36, rng), bad, infinite}, 1, 32 * 1024, t);
  expect_fp32_contract(runs[0], "finite neighbour");
  testing::expect_nan_factors(runs[1], "nan");
  testing::expect_nan_factors(runs[2], "inf");
}

// The plan's choice beyond the fused kernel: divide and conquer on the matrix, or on R after a
// QR when there are at least twice as many rows as columns.
TEST(DcSvd, ThePlanTakesItBeyondTheFusedKernel) {
  std::mt19937_64 rng(139);
  expect_fp32_contract(run_svd<float>({testing::gaussian(100, 96, rng)}, 2)[0], "100x96");
  expect_fp32_contract(run_svd<float>({testing::gaussian(260, 100, rng)}, 2)[0], "260x100 QR");
  SvdTuning qr;
  qr.algorithm = SvdAlgorithm::qr_jacobi;
  const SvdRun r = run_svd<double>({testing::gaussian(230, 100, rng)}, 3, 32 * 1024, qr)[0];
  expect_accurate(r, kTolF64, kTolF64, kTolF64, "230x100 QR f64");
}

// The whole reduction in one launch with the matrix in its groups' registers
// (bidiagonal_resident), where the backend runs every group at once (the emulator with resident
// groups, fibers in a shuffled order): the contract at shapes of one group, of several with
// slots left over (70 columns: 3 groups of 32 slots; 150: 5; 270: 9, more than a thread loads
// the parts of at once), square, a single column, rank deficient, a zero column block and the
// identity (no reflector does anything), a batch of two, and more rows than the narrow form's
// groups take (600x40); the kernel ran, in the form for its groups' threads, once a call, and
// the launches did not.
TEST(DcSvd, ResidentReductionMeetsTheContract) {
  std::mt19937_64 rng(181);
  VectorXd rank_deficient(60);
  for (int i = 0; i < 60; ++i) rank_deficient(i) = i < 45 ? 1.0 + i : 0.0;
  MatrixXd zero_block = testing::gaussian(50, 40, rng);
  zero_block.middleCols(10, 12).setZero();
  const std::vector<std::pair<std::string, std::vector<MatrixXd>>> cases = {
      {"40x20", {testing::gaussian(40, 20, rng)}},
      {"90x70", {testing::gaussian(90, 70, rng)}},
      {"200x150", {testing::gaussian(200, 150, rng)}},
      {"300x270", {testing::gaussian(300, 270, rng)}},
      {"65x65", {testing::gaussian(65, 65, rng)}},
      {"5x1", {testing::gaussian(5, 1, rng)}},
      {"rank deficient", {testing::with_singular_values(70, 60, rank_deficient, rng)}},
      {"zero column block", {zero_block}},
      {"identity", {MatrixXd::Identity(33, 33)}},
      {"batch", {testing::gaussian(70, 50, rng), testing::gaussian(70, 50, rng)}},
      {"600x40", {testing::gaussian(600, 40, rng)}}};
  SvdTuning t;
  t.algorithm = SvdAlgorithm::bidiagonal_dc;
  t.bidiagonal.reduction_resident = 1;
  for (uint64_t seed : {1u, 2u})
    for (const auto& [what, inputs] : cases) {
      emu::EmulatorOptions options;
      options.schedule_seed = seed;
      options.resident_threads = emu::max_resident_threads();
      LimitedBackend backend({}, options);
      const std::vector<SvdRun> runs = testing::run_svd_on<float>(backend, inputs, t);
      for (const SvdRun& run : runs)
        expect_fp32_contract(run, what + " seed " + std::to_string(seed));
      const bool narrow = inputs[0].rows() <= kernels::kBrdResidentNarrowThreads;
      EXPECT_EQ(backend.calls("bidiagonal_resident_narrow_f32"), narrow ? 1u : 0u) << what;
      EXPECT_EQ(backend.calls("bidiagonal_resident_f32"), narrow ? 0u : 1u) << what;
      EXPECT_EQ(backend.calls("bidiagonal_column_f32"), 0u) << what;
    }
}

// Where bidiagonal_resident runs when asked for: float32, at most kBrdResidentMaxRows rows, all
// its groups resident at once. The plan's takes it there up to kBrdResidentPlanRows rows.
TEST(DcSvd, ResidentReductionWhereItCanRun) {
  emu::EmulatorOptions options;
  options.resident_threads = emu::max_resident_threads();
  LimitedBackend resident({}, options);
  LimitedBackend none({});      // no grid barriers, as on Metal
  BidiagonalLaunchShape shape;  // the plan's
  EXPECT_TRUE(bidiagonal_resident(resident, shape, ScalarType::f32, 1, 200, 150));
  EXPECT_TRUE(bidiagonal_resident(resident, shape, ScalarType::f32, 1, kBrdResidentPlanRows,
                                  kBrdResidentPlanRows));
  EXPECT_FALSE(bidiagonal_resident(resident, shape, ScalarType::f32, 1, kBrdResidentPlanRows + 1,
                                   kBrdResidentPlanRows));
  EXPECT_FALSE(bidiagonal_resident(none, shape, ScalarType::f32, 1, 200, 150));
  EXPECT_FALSE(bidiagonal_resident(resident, shape, ScalarType::f64, 1, 200, 150));
  shape.resident = 0;
  EXPECT_FALSE(bidiagonal_resident(resident, shape, ScalarType::f32, 1, 200, 150));
  shape.resident = 1;
  EXPECT_TRUE(bidiagonal_resident(resident, shape, ScalarType::f32, 1, 200, 150));
  EXPECT_FALSE(bidiagonal_resident(none, shape, ScalarType::f32, 1, 200, 150));
  EXPECT_FALSE(bidiagonal_resident(resident, shape, ScalarType::f64, 1, 200, 150));
  EXPECT_TRUE(bidiagonal_resident(resident, shape, ScalarType::f32, 1, kBrdResidentPlanRows + 1,
                                  kBrdResidentPlanRows));
  EXPECT_FALSE(bidiagonal_resident(resident, shape, ScalarType::f32, 1,
                                   kernels::kBrdResidentMaxRows + 1, 8));
  // 16 Ki threads on the emulator: 16 groups of 1024 threads, not 17.
  EXPECT_TRUE(bidiagonal_resident(resident, shape, ScalarType::f32, 16, 1000, 20));
  EXPECT_FALSE(bidiagonal_resident(resident, shape, ScalarType::f32, 17, 1000, 20));
}

}  // namespace
}  // namespace metalsvd
