// Golub-Kahan bidiagonalisation A = Q B P^T of a batch of tall matrices on the device
// (kernels/bidiagonal_reduction.h): two launches a column, the trailing matrix updated by two
// backend GEMMs a panel, and Q and P kept as blocked Householder factors to apply later.
#pragma once

#include <cstdint>

#include "backend.h"
#include "core/householder_qr.h"
#include "core/workspace_layout.h"
#include "matrix_batch.h"

namespace metalsvd {

struct BidiagonalReduction {
  ScalarType dtype = ScalarType::f32;  // compute type
  uint32_t batch = 0, rows = 0, cols = 0;
  Buffer region;         // kernels::bidiagonal_layout(rows, cols, batch)
  HouseholderFactors q;  // rows x cols reflectors
  HouseholderFactors p;  // (cols - 1) x (cols - 1), acting on rows 1 .. cols - 1
  // Whether the reduction forms Q's and P's T factors; only applying Q or P needs them.
  bool form_triangles = true;
};

// Workspace for `batch` rows x cols (rows >= cols) problems; Q then applies to matrices of up
// to q_apply_cols columns, P to (cols - 1)-row matrices of up to p_apply_cols columns.
BidiagonalReduction bidiagonal_reduction_workspace(WorkspaceLayout& layout, ScalarType dtype,
                                                   uint32_t batch, uint32_t rows, uint32_t cols,
                                                   uint32_t q_apply_cols, uint32_t p_apply_cols);

// Where the caller puts A (column-major, compute type); the reduction overwrites it.
MatrixBatch bidiagonal_input(const BidiagonalReduction& r);

// B's diagonal d (cols) and superdiagonal e (cols - 1) of every matrix.
struct BidiagonalDiagonals {
  Buffer data;           // matrix 0's d
  int64_t batch_stride;  // elements between matrices
  uint32_t e_offset;     // elements from a matrix's d to its e
};
BidiagonalDiagonals bidiagonal_diagonals(const BidiagonalReduction& r);

// How the column and row kernels are launched; 0 leaves a choice to the plan.
struct BidiagonalLaunchShape {
  // Threads a group (256, 512 or 1024, at most what each kernel allows,
  // Backend::max_threads_for); 0: bidiagonal_threads' choice at every launch.
  uint32_t threads = 0;
  // Groups a launch should have at least: a group's extent (kernels/bidiagonal_reduction.h)
  // halves, down to the smallest, while a launch has fewer; 0: kBidiagonalGroups.
  uint32_t groups = 0;
  // The trailing matrix is finished by bidiagonal_tail, one group a matrix, from the first
  // panel boundary where it has at most tail^2 elements (so at most `tail` columns) and fits
  // the group's threadgroup memory with the kernel's scratch; 0: never, -1: kBidiagonalTail.
  int32_t tail = -1;
  // The whole reduction in one launch, the matrix in its groups' registers
  // (kernels/bidiagonal_resident.h), where the backend has grid barriers for all its groups and
  // the matrix is float32 of at most kBrdResidentMaxRows rows: 1 there, 0 never, -1 the plan's,
  // which is there up to kBrdResidentPlanRows rows.
  int32_t resident = -1;
};

// The most rows of a matrix whose reduction the plan gives bidiagonal_resident. On the H100 it
// took 512^2 in 0.72x the time of the launches and 1024^2 in 1.02x: at 1024 rows, 32 groups of
// 1024 threads, a column costs more than its two launches
// (bench/results/2026-12-07_nvidia-h100_resident.txt). Between the two is not measured, nor
// the kernel's later forms (no condition a slot; a narrow form with twice the registers).
constexpr uint32_t kBrdResidentPlanRows = 512;

// Whether the reduction of `batch` rows x cols matrices of compute type `dtype` is
// bidiagonal_resident's on `backend` under `shape`.
bool bidiagonal_resident(Backend& backend, const BidiagonalLaunchShape& shape, ScalarType dtype,
                         uint32_t batch, uint32_t rows, uint32_t cols);

// Groups a launch should have at least: fewer than a large GPU's multiprocessors (an H200 has
// 132), since every group of the next launch reduces every group's record. On the H200 32 and
// 64 groups of 1024 threads beat 128 and 256 narrower ones; 64 came out 0-7% ahead of 32 from
// 2048^2 on in three sweeps and within 2% below (bench/results/2026-12-02_nvidia-h200_tune_dc.txt).
constexpr uint32_t kBidiagonalGroups = 64;

// The tail's size (BidiagonalLaunchShape::tail): a column of the tail costs one group a few
// barriers and passes over threadgroup memory, a column before it two launches of the GEMV
// kernels. On the H200 96 was the fastest or within 0.3% of it from 512^2 to 4096^2 and at
// 16384x256, 1-3% ahead of none (the tail takes ~6 us a column: its barriers and the sums over
// 32 SIMD groups, not its memory, bound it). kMaxBidiagonalTail: the largest that may be asked.
constexpr int32_t kBidiagonalTail = 96;
constexpr int32_t kMaxBidiagonalTail = 1024;

// Whether a tail of size `tail` (not -1) takes the `rows` x `cols` trailing elements left at a
// panel boundary (the threadgroup memory is the caller's to check).
bool bidiagonal_tail_from(uint32_t rows, uint32_t cols, int32_t tail);

// The two GEMV kernels of a column: bidiagonal_column (A^T v) and bidiagonal_row (A u).
enum class BidiagonalStep { column, row };

// Threads of a `step` kernel's groups of `elements` trailing elements each: many where a
// group's GEMV is large (its loads in flight decide its speed), few where it is small (its
// barriers and its sums over the SIMD groups do).
uint32_t bidiagonal_threads(BidiagonalStep step, uint64_t elements);

// The extent of a group (largest .. smallest, powers of two) over `count` trailing columns or
// rows of each of `batch` matrices: the largest that gives at least `groups` groups.
uint32_t bidiagonal_group_extent(uint32_t count, uint32_t batch, uint32_t largest,
                                 uint32_t smallest, uint32_t groups);

// Enqueues the reduction of the loaded A and, with r.form_triangles, forms Q's and P's T factors.
void enqueue_bidiagonal_reduction(Backend& backend, const BidiagonalReduction& r,
                                  const BidiagonalLaunchShape& shape = {});

// x <- Q x (x: rows x up to q_apply_cols) and w <- P w (w: cols x up to p_apply_cols),
// column-major compute-type matrices.
void enqueue_apply_bidiagonal_q(Backend& backend, const BidiagonalReduction& r,
                                const MatrixBatch& x);
void enqueue_apply_bidiagonal_p(Backend& backend, const BidiagonalReduction& r,
                                const MatrixBatch& w);

}  // namespace metalsvd
