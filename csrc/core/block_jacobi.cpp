#include "core/block_jacobi.h"

#include <algorithm>
#include <string>

#include "core/column_major.h"
#include "core/errors.h"
#include "core/workspace_kernels.h"
#include "kernels/block_jacobi.h"
#include "kernels/block_jacobi_refine.h"

namespace metalsvd {
namespace {

// Default block width. Pairs of 2 x 16 columns keep each round's eigensolver short (31 steps a
// sweep) while the Gram and rotation passes stream 32 columns at a time. From 4096 columns,
// blocks of 32 where they fit: half the rounds, so half the memory traffic of the Gram and
// rotation passes, for twice the eigensolver's work. Measured on an H200
// (bench/results/..._tune_blocked.txt): 4096^2 took 1467 ms against 1791, 2048^2 367 against 301.
constexpr uint32_t kDefaultBlock = 16;
constexpr uint32_t kWideBlock = 32;
constexpr uint32_t kWideBlockFromColumns = 4096;
// Inner sweeps per round. One: measured on an H200 (bench/tune_blocked.py), a second sweep saved
// no outer sweep at 1024^2 and 2048^2 and cost 20-35% more time.
constexpr uint32_t kDefaultInnerSweeps = 1;
constexpr uint32_t kGramThreads = 256;
// The pair eigensolver's steps are a few dependent passes of width x width / 2 updates each: one
// thread per update (512 threads at 16-column blocks) was 4-7% faster than 256 at 1024^2 and
// 2048^2 on an H200 (bench/results/..._tune_blocked.txt), fewer threads slower at every count.
constexpr uint32_t kMaxEigenThreads = 512;
// Leading sweeps run as backend GEMMs (BlockJacobiTuning::gemm_sweeps).
constexpr uint32_t kDefaultGemmSweeps = 0;
// Polish sweeps after convergence (BlockJacobiTuning::polish_sweeps). Two: measured on an H200
// (bench/results/..._tune_blocked.txt), sigma error 2.0e-7 -> 3.1e-8 at 4096^2 and 1.2e-6 ->
// 4.5e-8 at 8192^2, U's orthogonality 7.6e-6 -> 4.8e-7 and 1.1e-5 -> 4.9e-7, for 15% more time.
constexpr uint32_t kDefaultPolishSweeps = 2;
constexpr uint32_t kMaxPolishSweeps = 8;
constexpr uint32_t kFinalizeThreads = 256;
constexpr uint32_t kSweepEndThreads = 32;
// Gram partial sums: enough groups to fill a large GPU, each summing at least this many rows.
constexpr uint32_t kGramTargetGroups = 1024;
constexpr uint32_t kGramMinRowsPerSplit = 256;
constexpr uint32_t kGramMaxSplits = 64;

uint32_t round_up(uint32_t x, uint32_t multiple) {
  return (x + multiple - 1) / multiple * multiple;
}

bool fits(const BlockJacobiPlan& p, const DeviceLimits& limits) {
  const uint32_t most = std::max({p.gram_bytes, p.eigen_bytes, p.rotate_bytes, p.finalize_bytes});
  const uint32_t threads =
      std::max({p.gram_threads, p.eigen_threads, p.rotate_threads, p.finalize_threads});
  return most <= limits.threadgroup_memory_bytes && threads <= limits.max_threads_per_group;
}

void size_kernels(BlockJacobiPlan& p, uint32_t c_size, const DeviceLimits& limits,
                  const BlockJacobiTuning& tuning) {
  const uint32_t width = 2 * p.block;
  p.gram_threads =
      std::max(kGramThreads, round_up(kernels::gram_tiles(width), kernels::kSimdWidth));
  p.gram_bytes = width * std::max(kernels::kGramTileRows + 1, width) * c_size;
  p.eigen_threads = tuning.eigen_threads != 0
                        ? tuning.eigen_threads
                        : std::clamp(round_up(p.block * width, kernels::kSimdWidth),
                                     kernels::kSimdWidth, kMaxEigenThreads);
  p.eigen_bytes = (width * (width + 1) + width + kernels::kSimdWidth + width * width) * c_size;
  p.finalize_threads = kFinalizeThreads;
  p.finalize_bytes = kernels::kSimdWidth * c_size;
  // The tallest row tile whose rows and rotation fit beside each other (or the one asked for).
  for (uint32_t tile : {64u, 32u, 16u, 8u}) {
    p.row_tile = tuning.row_tile != 0 ? tuning.row_tile : tile;
    p.rotate_bytes = (width * (width + 1) + width * p.row_tile) * c_size;
    if (p.rotate_bytes <= limits.threadgroup_memory_bytes) break;
  }
  p.rotate_threads = std::clamp(round_up(p.row_tile / 4 * (width / 4), kernels::kSimdWidth),
                                kernels::kSimdWidth, 1024u);
}

}  // namespace

BlockJacobiPlan plan_block_jacobi(const DeviceLimits& limits, ScalarType dtype, uint32_t batch,
                                  uint32_t rows, uint32_t cols, const BlockJacobiTuning& tuning) {
  if (tuning.block % 2 != 0)
    throw InvalidArgument("metalsvd: the block Jacobi block width must be even");
  if (tuning.eigen_threads % kernels::kSimdWidth != 0 || tuning.eigen_threads > 1024)
    throw InvalidArgument(
        "metalsvd: the pair eigensolver's threads must be a multiple of 32, "
        "at most 1024");
  const bool refine_possible = limits.supports_fp64 && dtype == ScalarType::f32 &&
                               kernels::kRefineScratchBytes <= limits.threadgroup_memory_bytes &&
                               kernels::kRefineThreads <= limits.max_threads_per_group;
  if (tuning.refine_sigma > 0 && !refine_possible)
    throw InvalidArgument(
        "metalsvd: refining the singular values in float64 needs float32 input on a device "
        "with float64 and 16 KiB of threadgroup memory");
  if (tuning.polish_sweeps > static_cast<int32_t>(kMaxPolishSweeps))
    throw InvalidArgument("metalsvd: at most 8 polish sweeps");
  if (tuning.row_tile % 4 != 0 || tuning.row_tile > 256)
    throw InvalidArgument("metalsvd: the rotation's row tile must be a multiple of 4, at most 256");
  const uint32_t c_size = element_size(dtype);
  BlockJacobiPlan p;
  // No wider than half the columns (rounded up to even): one pair of blocks covers them.
  const uint32_t half_cols = std::max(2u, round_up((cols + 1) / 2, 2));
  const uint32_t default_block = cols >= kWideBlockFromColumns ? kWideBlock : kDefaultBlock;
  p.block = std::min(tuning.block != 0 ? tuning.block : default_block, half_cols);
  size_kernels(p, c_size, limits, tuning);
  while (!fits(p, limits) && p.block > 2) {
    p.block = std::max(2u, p.block / 2 / 2 * 2);
    size_kernels(p, c_size, limits, tuning);
  }
  if (!fits(p, limits))
    throw NotImplemented("metalsvd.svd: the blocked Jacobi kernels need " +
                         std::to_string(std::max(p.rotate_bytes, p.eigen_bytes)) +
                         " bytes of threadgroup memory even with the narrowest blocks; the "
                         "device has " +
                         std::to_string(limits.threadgroup_memory_bytes));
  const uint32_t width = 2 * p.block;
  p.pairs = (cols + width - 1) / width;
  p.padded_cols = p.pairs * width;
  p.inner_sweeps = tuning.inner_sweeps != 0 ? tuning.inner_sweeps : kDefaultInnerSweeps;
  p.max_sweeps = tuning.max_sweeps != 0 ? tuning.max_sweeps : kMaxBlockJacobiSweeps;
  p.refine_sigma = tuning.refine_sigma != 0 && refine_possible;
  p.polish_sweeps = tuning.polish_sweeps >= 0 ? static_cast<uint32_t>(tuning.polish_sweeps)
                                              : kDefaultPolishSweeps;
  p.gemm_sweeps = std::min(
      tuning.gemm_sweeps >= 0 ? static_cast<uint32_t>(tuning.gemm_sweeps) : kDefaultGemmSweeps,
      p.max_sweeps);
  const uint32_t by_rows = std::max(1u, rows / kGramMinRowsPerSplit);
  const uint32_t by_groups = std::max(1u, kGramTargetGroups / std::max(1u, batch * p.pairs));
  p.gram_splits = std::clamp(std::min(by_rows, by_groups), 1u, kGramMaxSplits);
  p.state_stride = kernels::kStatePairFlags + p.pairs;
  return p;
}

BlockJacobiWorkspace block_jacobi_workspace(WorkspaceLayout& layout, const BlockJacobiPlan& plan,
                                            ScalarType dtype, uint32_t batch, uint32_t rows,
                                            uint32_t cols) {
  const uint64_t size = element_size(dtype);
  const uint64_t padded = plan.padded_cols;
  const uint64_t width = 2 * plan.block;
  const uint64_t pairs = uint64_t{batch} * plan.pairs;
  BlockJacobiWorkspace ws;
  ws.g = layout.take(2 * uint64_t{batch} * rows * padded * size);
  ws.v = layout.take(2 * uint64_t{batch} * padded * padded * size);
  ws.rotation_offset = static_cast<int64_t>(pairs * plan.gram_splits * width * width);
  ws.pairs = layout.take((ws.rotation_offset + pairs * width * width) * size);
  const uint64_t v_out = uint64_t{cols} * cols;
  const uint64_t scratch = 3 * padded + std::max<uint64_t>(rows, padded);
  ws.v_offset = 0;
  ws.s_offset = static_cast<uint32_t>(v_out);
  ws.scratch_offset = static_cast<uint32_t>(ws.s_offset + cols);
  // Even, so that the float64 sums after the scratch are aligned in every matrix.
  ws.refine_offset = static_cast<uint32_t>((ws.scratch_offset + scratch + 1) / 2 * 2);
  ws.finalize_batch_stride = ws.refine_offset;
  if (plan.refine_sigma) {
    ws.refine_row_blocks = (rows + kernels::kRefineTile - 1) / kernels::kRefineTile;
    const uint64_t sums = (uint64_t{ws.refine_row_blocks} + 1) * padded;
    ws.finalize_batch_stride += static_cast<int64_t>(sums * sizeof(double) / size);
    ws.loaded = layout.take(uint64_t{batch} * rows * cols * size);
  }
  ws.finalize = layout.take(batch * ws.finalize_batch_stride * size);
  return ws;
}

MatrixBatch block_jacobi_input(const BlockJacobiPlan& plan, const BlockJacobiWorkspace& ws,
                               ScalarType dtype, uint32_t batch, uint32_t rows) {
  return column_major(ws.g, dtype, batch, rows, plan.padded_cols, rows,
                      int64_t{rows} * plan.padded_cols);
}

namespace {

// One round whose Gram matrices and rotations are backend GEMMs over all pairs of the batch
// (pair k of matrix b is batch entry b * pairs + k: the pairs are equally far apart). The
// columns start and end in copy `copy`; the rotation GEMMs write the other copy, in place of
// the rotate kernel's scattered stores. `p`: the round's parameters, which this completes.
void enqueue_gemm_round(Backend& backend, const BlockJacobiPlan& plan,
                        const BlockJacobiWorkspace& ws, ScalarType dtype, uint32_t batch,
                        uint32_t rows, uint32_t copy, kernels::BlockJacobiParams p,
                        const WorkspaceBuffers& b) {
  p.gram_splits = 1;  // the Gram GEMM writes whole Gram matrices
  const uint64_t size = element_size(dtype);
  const uint32_t width = 2 * plan.block;
  const uint32_t pairs = batch * plan.pairs;
  const uint32_t padded = plan.padded_cols;
  auto g_pairs = [&](uint32_t c) {
    return column_major(advanced(ws.g, c * p.g_parity_stride * size), dtype, pairs, rows, width,
                        rows, int64_t{width} * rows);
  };
  auto v_pairs = [&](uint32_t c) {
    return column_major(advanced(ws.v, c * p.v_parity_stride * size), dtype, pairs, padded, width,
                        padded, int64_t{width} * padded);
  };
  const int64_t square = int64_t{width} * width;
  const MatrixBatch grams = column_major(ws.pairs, dtype, pairs, width, width, width, square);
  const MatrixBatch rotations = column_major(advanced(ws.pairs, ws.rotation_offset * size), dtype,
                                             pairs, width, width, width, square);
  backend.gemm({transposed(g_pairs(copy)), g_pairs(copy), grams, 1.0, 0.0});
  p.threads = plan.eigen_threads;
  launch_workspace_kernel(backend, workspace_kernel_name("block_jacobi_pair_eigen", dtype), pairs,
                          plan.eigen_threads, plan.eigen_bytes, p, b);
  backend.gemm({g_pairs(copy), rotations, g_pairs(1 - copy), 1.0, 0.0});
  backend.gemm({v_pairs(copy), rotations, v_pairs(1 - copy), 1.0, 0.0});
  p.src_parity = 1 - copy;
  p.threads = plan.finalize_threads;
  const uint64_t elements = (uint64_t{rows} + padded) * padded;
  p.groups_per_matrix = static_cast<uint32_t>(
      std::clamp<uint64_t>(elements / (uint64_t{plan.finalize_threads} * 16), 1, 1024));
  launch_workspace_kernel(backend, workspace_kernel_name("block_jacobi_permute", dtype),
                          batch * p.groups_per_matrix, plan.finalize_threads, 0, p, b);
}

// The float64 refinement of the singular values (kernels/block_jacobi_refine.h), between the
// norms and the sort: G as loaded times the final V, then the new sort keys.
void enqueue_refine_sigma(Backend& backend, const BlockJacobiWorkspace& ws, ScalarType dtype,
                          uint32_t batch, kernels::BlockJacobiParams p, WorkspaceBuffers b) {
  b.w0 = ws.loaded;
  const uint32_t col_tiles = (p.padded_cols + kernels::kRefineTile - 1) / kernels::kRefineTile;
  p.groups_per_matrix = ws.refine_row_blocks * col_tiles;
  p.threads = kernels::kRefineThreads;
  launch_workspace_kernel(backend, workspace_kernel_name("block_jacobi_refine_partials", dtype),
                          batch * p.groups_per_matrix, kernels::kRefineThreads,
                          kernels::kRefineScratchBytes, p, b);
  p.threads = kFinalizeThreads;
  launch_workspace_kernel(backend, workspace_kernel_name("block_jacobi_refine_sigma", dtype), batch,
                          kFinalizeThreads, kernels::kSimdWidth * element_size(dtype), p, b);
}

}  // namespace

BlockJacobiResult enqueue_block_jacobi(Backend& backend, const BlockJacobiPlan& plan,
                                       const BlockJacobiWorkspace& ws, ScalarType dtype,
                                       uint32_t batch, uint32_t rows, uint32_t cols,
                                       const MatrixBatch& u, Buffer state, Buffer info) {
  if (u.row_stride != 1 || u.rows < rows || u.cols != cols || u.dtype != dtype)
    throw Error("metalsvd: block Jacobi writes U to a column-major compute-type matrix");
  const uint32_t padded = plan.padded_cols;
  kernels::BlockJacobiParams p{};
  p.g_batch_stride = int64_t{rows} * padded;
  p.g_parity_stride = p.g_batch_stride * batch;
  p.v_batch_stride = int64_t{padded} * padded;
  p.v_parity_stride = p.v_batch_stride * batch;
  p.rotation_offset = ws.rotation_offset;
  p.finalize_batch_stride = ws.finalize_batch_stride;
  p.u_batch_stride = u.batch_stride;
  p.batch = batch;
  p.rows = rows;
  p.cols = cols;
  p.padded_cols = padded;
  p.block = plan.block;
  p.pairs = plan.pairs;
  p.ldg = rows;
  p.ldv = padded;
  p.inner_sweeps = plan.inner_sweeps;
  p.polish_sweeps = plan.polish_sweeps;
  p.state_stride = plan.state_stride;
  p.row_tile = plan.row_tile;
  p.g_tiles = (rows + plan.row_tile - 1) / plan.row_tile;
  p.v_tiles = (padded + plan.row_tile - 1) / plan.row_tile;
  p.ldu = static_cast<uint32_t>(u.col_stride);
  p.u_rows = u.rows;
  p.v_offset = ws.v_offset;
  p.s_offset = ws.s_offset;
  p.scratch_offset = ws.scratch_offset;
  p.refine_offset = ws.refine_offset;
  p.refine_row_blocks = ws.refine_row_blocks;

  if (plan.refine_sigma)
    enqueue_load(backend, column_major(ws.g, dtype, batch, rows, cols, rows, p.g_batch_stride),
                 column_major(ws.loaded, dtype, batch, rows, cols, rows, int64_t{rows} * cols),
                 state, plan.state_stride, 0);
  enqueue_set_identity(
      backend, column_major(ws.v, dtype, batch, padded, padded, padded, p.v_batch_stride), 0);
  WorkspaceBuffers b;
  b.w0 = ws.g;
  b.w1 = ws.v;
  b.w2 = ws.pairs;
  b.state = state;
  b.info = info;
  const std::string gram = workspace_kernel_name("block_jacobi_gram", dtype);
  const std::string eigen = workspace_kernel_name("block_jacobi_pair_eigen", dtype);
  const std::string rotate = workspace_kernel_name("block_jacobi_rotate", dtype);
  const std::string sweep_end = workspace_kernel_name("block_jacobi_sweep_end", dtype);
  const uint32_t rounds = 2 * plan.pairs - 1;
  const uint32_t pair_groups = batch * plan.pairs;
  // The GEMM sweeps come first: they leave every matrix's columns in copy 0, so the kernel
  // sweeps after them start alike for all (and from then on skip converged matrices).
  for (uint32_t sweep = 0; sweep < plan.max_sweeps; ++sweep) {
    p.gemm_sweep = sweep < plan.gemm_sweeps ? 1u : 0u;
    for (uint32_t round = 0; round < rounds; ++round) {
      p.round = round;
      if (p.gemm_sweep != 0u) {
        enqueue_gemm_round(backend, plan, ws, dtype, batch, rows, 0, p, b);
        continue;
      }
      p.gram_splits = plan.gram_splits;
      p.src_parity = ((sweep - plan.gemm_sweeps) * rounds + round) & 1u;
      p.threads = plan.gram_threads;
      launch_workspace_kernel(backend, gram, pair_groups * plan.gram_splits, plan.gram_threads,
                              plan.gram_bytes, p, b);
      p.threads = plan.eigen_threads;
      launch_workspace_kernel(backend, eigen, pair_groups, plan.eigen_threads, plan.eigen_bytes, p,
                              b);
      p.threads = plan.rotate_threads;
      launch_workspace_kernel(backend, rotate, pair_groups * (p.g_tiles + p.v_tiles),
                              plan.rotate_threads, plan.rotate_bytes, p, b);
    }
    p.threads = kSweepEndThreads;
    launch_workspace_kernel(backend, sweep_end, batch, kSweepEndThreads, 0, p, b);
  }
  // Finalize: norms (a SIMD group per column), ranks (a thread per column), the sorted U and
  // V (a thread per element), then info and the completion of null columns.
  const uint32_t threads = plan.finalize_threads;
  p.threads = threads;
  b.io = u.data;
  b.w2 = ws.finalize;
  const uint32_t simd_groups = threads / kernels::kSimdWidth;
  p.groups_per_matrix = (padded + simd_groups - 1) / simd_groups;
  launch_workspace_kernel(backend, workspace_kernel_name("block_jacobi_norms", dtype),
                          batch * p.groups_per_matrix, threads, 0, p, b);
  if (plan.refine_sigma) enqueue_refine_sigma(backend, ws, dtype, batch, p, b);
  p.groups_per_matrix = (padded + threads - 1) / threads;
  launch_workspace_kernel(backend, workspace_kernel_name("block_jacobi_sort", dtype),
                          batch * p.groups_per_matrix, threads, 0, p, b);
  const uint64_t outputs = uint64_t{u.rows} * cols + uint64_t{cols} * cols;
  p.groups_per_matrix =
      static_cast<uint32_t>(std::clamp<uint64_t>(outputs / (uint64_t{threads} * 16), 1, 1024));
  launch_workspace_kernel(backend, workspace_kernel_name("block_jacobi_write", dtype),
                          batch * p.groups_per_matrix, threads, 0, p, b);
  launch_workspace_kernel(backend, workspace_kernel_name("block_jacobi_complete", dtype), batch,
                          threads, plan.finalize_bytes, p, b);

  const uint64_t size = element_size(dtype);
  BlockJacobiResult result;
  result.v = column_major(advanced(ws.finalize, uint64_t{ws.v_offset} * size), dtype, batch, cols,
                          cols, cols, ws.finalize_batch_stride);
  result.s = column_major(advanced(ws.finalize, uint64_t{ws.s_offset} * size), dtype, batch, 1,
                          cols, 1, ws.finalize_batch_stride);
  return result;
}

}  // namespace metalsvd
