#include "core/householder_qr.h"

#include <algorithm>

#include "core/column_major.h"
#include "core/errors.h"
#include "core/panel_qr.h"
#include "core/workspace_kernels.h"
#include "kernels/householder.h"

namespace metalsvd {
namespace {

// householder_triangle: a SIMD group a row of the widest T.
constexpr uint32_t kTriangleThreads = kernels::kHouseholderMaxPanel * kernels::kSimdWidth;

uint32_t panel_count(const HouseholderFactors& f) {
  return (f.cols + f.panel_width - 1) / f.panel_width;
}

// Elements from a matrix's triangles to panel `index`'s T, and to its S = Y^T Y: every
// panel's T, then every panel's S, a panel_width^2 square each.
uint32_t triangle_offset(const HouseholderFactors& f, uint32_t index) {
  return index * f.panel_width * f.panel_width;
}
uint32_t gram_offset(const HouseholderFactors& f, uint32_t index) {
  return triangle_offset(f, panel_count(f) + index);
}

// Panels of a block of enqueue_apply_q: kApplyBlockPanels, fewer where there are fewer or where
// Q has fewer than 8 blocks' width of rows, so that its two GEMM scratch matrices stay within a
// quarter of the x it applies to (a batch holds them for every matrix).
uint32_t apply_block_panels(uint32_t rows, uint32_t panel_width, uint32_t panels) {
  return std::max(1u, std::min({kApplyBlockPanels, panels, rows / (8 * panel_width)}));
}

// A width x width matrix (leading dimension width) at `offset` elements into the triangles.
MatrixBatch square_view(const HouseholderFactors& f, uint32_t offset, uint32_t width) {
  return column_major(advanced(f.triangles, uint64_t{offset} * element_size(f.y.dtype)), f.y.dtype,
                      f.y.batch, width, width, width, f.triangles_batch_stride);
}

// Panel `index`'s T as a GEMM operand.
MatrixBatch triangle_view(const HouseholderFactors& f, uint32_t index, uint32_t width) {
  return square_view(f, triangle_offset(f, index), width);
}

// The T factors and GEMM scratch of a factorisation whose reflectors are (or go) in `y`, in
// panels of at most `width` columns, and the scratch elements a matrix of its panels' TSQR and
// Cholesky QR (none: no QR).
HouseholderFactors factors_around(WorkspaceLayout& layout, const MatrixBatch& y,
                                  uint32_t apply_cols, uint32_t width, uint32_t tile_rows,
                                  uint32_t tsqr_scratch, uint32_t cholesky_scratch) {
  HouseholderFactors f;
  f.y = y;
  f.cols = y.cols;
  f.panel_width = std::min(width, std::max<uint32_t>(y.cols, 1));
  f.tile_rows = tile_rows;
  f.tsqr_offset = gram_offset(f, panel_count(f));  // after every T and every S
  if (cholesky_scratch > 0) f.cholesky_offset = f.tsqr_offset + tsqr_scratch;
  f.triangles_batch_stride = int64_t{f.tsqr_offset} + tsqr_scratch + cholesky_scratch;
  f.triangles = layout.take(y.batch * f.triangles_batch_stride * element_size(y.dtype));
  f.apply_width = apply_block_panels(y.rows, f.panel_width, panel_count(f)) * f.panel_width;
  const uint32_t work_cols = std::max(y.cols, apply_cols);
  f.work = take_matrix(layout, y.dtype, y.batch, f.apply_width, work_cols);
  f.work2 = take_matrix(layout, y.dtype, y.batch, f.apply_width, work_cols);
  if (f.apply_width > f.panel_width)
    f.block_gram = take_matrix(layout, y.dtype, y.batch, f.apply_width, f.apply_width);
  return f;
}

// S = Y^T Y of panel `index` over the rows its reflectors touch.
void enqueue_panel_gram(Backend& backend, const HouseholderFactors& f, uint32_t index) {
  const uint32_t k = index * f.panel_width;
  const uint32_t width = std::min(f.panel_width, f.cols - k);
  const MatrixBatch y_panel = sub_block(f.y, k, k, f.y.rows - k, width);
  backend.gemm(
      {transposed(y_panel), y_panel, square_view(f, gram_offset(f, index), width), 1.0, 0.0});
}

// x <- (H_k ... H_{k+width-1}) x for the reflectors of `panels` panels from panel `first`, with
// k its first column, as I - Y T Y^T: W = Y^T x, Z = T W and x -= Y Z. T is not formed where
// there are several panels: Z is taken a panel's rows at a time from the last, Z_i = T_i (W_i -
// S_i,>i Z_>i) with S = Y^T Y (the panels applied last first, each to x less the later ones'
// Y_j Z_j), which costs GEMMs of the block's width only, while x is read once and updated once.
void apply_block(Backend& backend, const HouseholderFactors& f, uint32_t first, uint32_t panels,
                 const MatrixBatch& x) {
  const uint32_t k = first * f.panel_width;
  const uint32_t width = std::min(panels * f.panel_width, f.cols - k);
  const MatrixBatch y = sub_block(f.y, k, k, x.rows - k, width);
  const MatrixBatch x2 = sub_block(x, k, 0, x.rows - k, x.cols);
  const MatrixBatch w = sub_block(f.work, 0, 0, width, x.cols);
  const MatrixBatch z = sub_block(f.work2, 0, 0, width, x.cols);
  backend.gemm({transposed(y), x2, w, 1.0, 0.0});
  MatrixBatch s;  // S, where there are several panels
  if (panels > 1) {
    s = sub_block(f.block_gram, 0, 0, width, width);
    backend.gemm({transposed(y), y, s, 1.0, 0.0});
  }
  for (uint32_t i = panels; i-- > 0;) {
    const uint32_t r = i * f.panel_width;
    const uint32_t wi = std::min(f.panel_width, width - r);
    const uint32_t later = width - r - wi;
    const MatrixBatch w_i = sub_block(w, r, 0, wi, x.cols);
    if (later > 0)
      backend.gemm({sub_block(s, r, r + wi, wi, later), sub_block(z, r + wi, 0, later, x.cols), w_i,
                    -1.0, 1.0});
    backend.gemm({triangle_view(f, first + i, wi), w_i, sub_block(z, r, 0, wi, x.cols), 1.0, 0.0});
  }
  backend.gemm({y, z, x2, -1.0, 1.0});
}

// The T of `panels` panels from panel `first` (their S and taus in place), a group each; the
// kernel narrows the factorisation's last panel itself.
void launch_triangles(Backend& backend, const HouseholderFactors& f, uint32_t first,
                      uint32_t panels) {
  kernels::HouseholderParams p{};
  p.t_batch_stride = f.triangles_batch_stride;
  p.batch = f.y.batch;
  p.cols = f.cols;
  p.panel = first * f.panel_width;
  p.width = f.panel_width;
  p.t_offset = triangle_offset(f, first);
  p.s_offset = gram_offset(f, first);
  p.panels = panels;
  const std::string kernel = workspace_kernel_name("householder_triangle", f.y.dtype);
  // Fewer SIMD groups than rows where the device allows fewer threads: they share the rows.
  p.threads = std::min(kTriangleThreads,
                       backend.max_threads_for(kernel) / kernels::kSimdWidth * kernels::kSimdWidth);
  if (p.threads == 0) throw NotImplemented("metalsvd: householder_triangle needs a SIMD group");
  WorkspaceBuffers b;
  b.w2 = f.triangles;
  launch_workspace_kernel(backend, kernel, f.y.batch * panels, p.threads,
                          static_cast<uint32_t>(kernels::householder_triangle_scratch(p.width) *
                                                element_size(f.y.dtype)),
                          p, b);
}

}  // namespace

HouseholderFactors householder_factors(WorkspaceLayout& layout, const DeviceLimits& limits,
                                       ScalarType dtype, uint32_t batch, uint32_t rows,
                                       uint32_t cols, uint32_t apply_cols, uint32_t tile_rows) {
  const MatrixBatch y = take_matrix(layout, dtype, batch, rows, cols);
  const TsqrShape shape = tsqr_shape(limits, dtype, tile_rows);
  const uint32_t width = std::min(shape.width, std::max(cols, 1u));
  return factors_around(layout, y, apply_cols, shape.width, shape.tile_rows,
                        tsqr_tree(rows, width, shape.tile_rows).size,
                        cholesky_qr_scratch_elements(limits, dtype, rows, width));
}

HouseholderFactors householder_factors_for(WorkspaceLayout& layout, const MatrixBatch& y,
                                           uint32_t apply_cols) {
  return factors_around(layout, y, apply_cols, kernels::kHouseholderMaxPanel, 0, 0, 0);
}

void enqueue_householder_qr(Backend& backend, const MatrixBatch& a, const HouseholderFactors& f) {
  if (a.rows < a.cols || a.cols != f.cols || a.row_stride != 1 || f.tile_rows == 0)
    throw Error("metalsvd: Householder QR needs a tall column-major matrix");
  enqueue_clear_reflectors(backend, f);
  for (uint32_t index = 0; index < panel_count(f); ++index) {
    const uint32_t k = index * f.panel_width;
    const uint32_t width = std::min(f.panel_width, a.cols - k);
    const MatrixBatch y_panel = sub_block(f.y, k, k, a.rows - k, width);
    enqueue_panel_qr(backend, sub_block(a, k, k, a.rows - k, width), y_panel,
                     householder_panel_place(f, index));
    // Trailing columns: A2 <- H^T A2 = A2 - Y (T^T (Y^T A2)).
    const uint32_t trailing = a.cols - k - width;
    if (trailing == 0) continue;
    const MatrixBatch a2 = sub_block(a, k, k + width, a.rows - k, trailing);
    const MatrixBatch w1 = sub_block(f.work, 0, 0, width, trailing);
    const MatrixBatch w2 = sub_block(f.work2, 0, 0, width, trailing);
    backend.gemm({transposed(y_panel), a2, w1, 1.0, 0.0});
    backend.gemm({transposed(triangle_view(f, index, width)), w1, w2, 1.0, 0.0});
    backend.gemm({y_panel, w2, a2, -1.0, 1.0});
  }
}

void enqueue_clear_reflectors(Backend& backend, const HouseholderFactors& f) {
  enqueue_set_identity(backend, f.y, static_cast<int32_t>(f.y.rows));  // no diagonal: zeros
}

TsqrPanelPlace householder_panel_place(const HouseholderFactors& f, uint32_t index) {
  TsqrPanelPlace place;
  place.region = f.triangles;
  place.region_batch_stride = f.triangles_batch_stride;
  place.t_offset = triangle_offset(f, index);
  place.scratch_offset = f.tsqr_offset;
  place.tile_rows = f.tile_rows;
  place.cholesky_offset = f.cholesky_offset;
  return place;
}

MatrixBatch householder_panel_triangle(const HouseholderFactors& f, uint32_t index,
                                       uint32_t width) {
  return triangle_view(f, index, width);
}

void enqueue_householder_triangles(Backend& backend, const HouseholderFactors& f) {
  for (uint32_t index = 0; index < panel_count(f); ++index) enqueue_panel_gram(backend, f, index);
  launch_triangles(backend, f, 0, panel_count(f));
}

void enqueue_apply_q(Backend& backend, const HouseholderFactors& f, const MatrixBatch& x) {
  if (x.rows != f.y.rows || x.cols > f.work.cols || x.row_stride != 1)
    throw Error("metalsvd: Q applies to column-major matrices with Q's rows");
  if (x.cols == 0) return;
  // A block's S = Y^T Y costs 2 width^2 rows multiply-adds: not worth it for a narrow x.
  const uint32_t per_block = x.cols >= f.apply_width ? f.apply_width / f.panel_width : 1;
  const uint32_t panels = panel_count(f);
  for (uint32_t block = (panels + per_block - 1) / per_block; block-- > 0;) {
    const uint32_t first = block * per_block;
    apply_block(backend, f, first, std::min(per_block, panels - first), x);
  }
}

}  // namespace metalsvd
