#include "core/band_bidiagonal.h"

#include <algorithm>

#include "core/errors.h"
#include "core/workspace_kernels.h"
#include "kernels/band_bidiagonal.h"

namespace metalsvd {

BandBidiagonal band_bidiagonal_workspace(WorkspaceLayout& layout, ScalarType dtype, uint32_t batch,
                                         uint32_t n, uint32_t band) {
  if (band == 0 || band > kernels::kBandMax || n == 0)
    throw Error("metalsvd: a band of 1 to 32 superdiagonals is reduced to bidiagonal form");
  BandBidiagonal w;
  w.dtype = dtype;
  w.batch = batch;
  w.n = n;
  w.band = band;
  w.work_batch_stride = static_cast<int64_t>(kernels::band_work_elements(n, band));
  w.work = layout.take(batch * w.work_batch_stride * element_size(dtype));
  w.de = layout.take(uint64_t{batch} * 2 * n * element_size(dtype));
  return w;
}

BidiagonalDiagonals band_bidiagonal_diagonals(const BandBidiagonal& w) {
  return {w.de, 2 * int64_t{w.n}, w.n};
}

void enqueue_band_bidiagonal(Backend& backend, const BandBidiagonal& w, const MatrixBatch& banded) {
  if (banded.rows < w.n || banded.cols != w.n || banded.row_stride != 1 || banded.batch != w.batch)
    throw Error("metalsvd: the band matrices must be column-major n x n");
  const std::string kernel = workspace_kernel_name("band_bidiagonal", w.dtype);
  // A SIMD group a sweep at a time, as many as the device holds (each keeps two vectors in
  // threadgroup memory), up to a whole SIMD group of them.
  const uint32_t simd = kernels::kSimdWidth;
  const uint32_t per_warp = kernels::band_scratch_elements(simd) * element_size(w.dtype);
  const uint32_t warps = std::min({simd, backend.max_threads_for(kernel) / simd,
                                   backend.limits().threadgroup_memory_bytes / per_warp});
  if (warps == 0) throw NotImplemented("metalsvd: band_bidiagonal needs a SIMD group");
  const uint32_t threads = warps * simd;
  kernels::BandBidiagonalParams p{};
  p.a_batch_stride = banded.batch_stride;
  p.work_batch_stride = w.work_batch_stride;
  p.de_batch_stride = 2 * int64_t{w.n};
  p.batch = w.batch;
  p.n = w.n;
  p.lda = static_cast<uint32_t>(banded.col_stride);
  p.band = w.band;
  p.threads = threads;
  p.e_offset = w.n;
  // Sweeps active at once: every other one of the first sweep's tasks, and one more.
  const uint32_t active = w.n > 2 ? (kernels::band_sweep_tasks(w.n, w.band, 0) + 1) / 2 + 1 : 1;
  p.slots = (active + warps - 1) / warps;
  WorkspaceBuffers b;
  b.w0 = banded.data;
  b.w1 = w.work;
  b.w2 = w.de;
  launch_workspace_kernel(
      backend, kernel, w.batch, threads,
      kernels::band_scratch_elements(threads) * static_cast<uint32_t>(element_size(w.dtype)), p, b);
}

}  // namespace metalsvd
