#include "core/band_reduction.h"

#include <algorithm>

#include "core/column_major.h"
#include "core/errors.h"
#include "core/panel_qr.h"

namespace metalsvd {

BandReduction band_reduction_workspace(WorkspaceLayout& layout, const DeviceLimits& limits,
                                       ScalarType dtype, uint32_t batch, uint32_t rows,
                                       uint32_t cols, uint32_t q_apply_cols, uint32_t p_apply_cols,
                                       uint32_t tile_rows) {
  if (rows < cols || cols == 0) throw Error("metalsvd: the band reduction needs rows >= cols > 0");
  BandReduction r;
  r.dtype = dtype;
  r.batch = batch;
  r.rows = rows;
  r.cols = cols;
  r.a = take_matrix(layout, dtype, batch, rows, cols);
  r.q = householder_factors(layout, limits, dtype, batch, rows, cols, std::max(cols, q_apply_cols),
                            tile_rows);
  r.band = r.q.panel_width;  // the row panels' width too: P's panels are as wide
  if (cols > r.band) {
    // The row panels' right updates take (rows x width) products: P's GEMM scratch holds them
    // transposed.
    const uint32_t n = cols - r.band;
    r.p = householder_factors(layout, limits, dtype, batch, n, n, std::max(rows, p_apply_cols),
                              tile_rows);
  }
  return r;
}

void enqueue_band_reduction(Backend& backend, const BandReduction& r) {
  const MatrixBatch& a = r.a;
  const uint32_t b = r.band;
  enqueue_clear_reflectors(backend, r.q);
  if (r.cols > r.band) enqueue_clear_reflectors(backend, r.p);
  for (uint32_t k = 0, index = 0; k < r.cols; k += b, ++index) {
    // The column panel: A[k.., k..k+w) = Q_k [R; 0], and Q_k^T applied to the columns right of
    // it: A2 <- A2 - Y (T^T (Y^T A2)).
    const uint32_t w = std::min(b, r.cols - k);
    const MatrixBatch yq = sub_block(r.q.y, k, k, r.rows - k, w);
    enqueue_panel_qr(backend, sub_block(a, k, k, r.rows - k, w), yq,
                     householder_panel_place(r.q, index));
    const uint32_t right = r.cols - k - w;
    if (right == 0) break;
    {
      const MatrixBatch a2 = sub_block(a, k, k + w, r.rows - k, right);
      const MatrixBatch w1 = sub_block(r.q.work, 0, 0, w, right);
      const MatrixBatch w2 = sub_block(r.q.work2, 0, 0, w, right);
      backend.gemm({transposed(yq), a2, w1, 1.0, 0.0});
      backend.gemm({transposed(householder_panel_triangle(r.q, index, w)), w1, w2, 1.0, 0.0});
      backend.gemm({yq, w2, a2, -1.0, 1.0});
    }
    // The row panel: A[k..k+wl, k+w..] = [L 0] P_k^T by a QR of its transpose (wl reflectors;
    // where fewer than w columns remain, the rows below the first wl are updated with the rest),
    // and P_k applied from the right to the rows below: A2 <- A2 - ((A2 Y) T) Y^T.
    const uint32_t wl = std::min(w, right);
    const MatrixBatch yp = sub_block(r.p.y, k, k, right, wl);
    enqueue_panel_qr(backend, transposed(sub_block(a, k, k + w, wl, right)), yp,
                     householder_panel_place(r.p, index));
    const uint32_t below = r.rows - k - wl;
    const MatrixBatch a2 = sub_block(a, k + wl, k + w, below, right);
    const MatrixBatch w1 = transposed(sub_block(r.p.work, 0, 0, wl, below));
    const MatrixBatch w2 = transposed(sub_block(r.p.work2, 0, 0, wl, below));
    backend.gemm({a2, yp, w1, 1.0, 0.0});
    backend.gemm({w1, householder_panel_triangle(r.p, index, wl), w2, 1.0, 0.0});
    backend.gemm({w2, transposed(yp), a2, -1.0, 1.0});
  }
}

void enqueue_apply_band_q(Backend& backend, const BandReduction& r, const MatrixBatch& x) {
  enqueue_apply_q(backend, r.q, x);
}

void enqueue_apply_band_p(Backend& backend, const BandReduction& r, const MatrixBatch& w) {
  if (r.cols <= r.band) return;  // P = I
  enqueue_apply_q(backend, r.p, sub_block(w, r.band, 0, r.cols - r.band, w.cols));
}

}  // namespace metalsvd
