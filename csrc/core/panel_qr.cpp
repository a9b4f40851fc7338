#include "core/panel_qr.h"

#include <algorithm>

#include "core/errors.h"
#include "core/workspace_kernels.h"
#include "kernels/cholesky_qr.h"

namespace metalsvd {
namespace {

// The most tiles of rows a panel's launches split it into: more would only lengthen
// cholesky_qr_factor's sum of their shares of the Gram matrix.
constexpr uint32_t kMaxTiles = 128;

// The Cholesky QR's scratch from its offset: the flag, R, R_k and U, then the tiles' shares of the
// Gram matrix.
constexpr uint32_t kFlagOffset = 0;
constexpr uint32_t kROffset = 1;
uint32_t block_offset(uint32_t k) {
  return kROffset + k * kernels::kTsqrMaxWidth * kernels::kTsqrMaxWidth;
}
uint32_t gram_offset() { return block_offset(3); }

uint32_t tiles_for(uint32_t rows, ScalarType dtype) {
  const uint32_t threads = kernels::cholesky_qr_row_threads(element_size(dtype));
  return std::max(1u, std::min(kMaxTiles, (rows + threads - 1) / threads));
}

// Launches `function` with `threads` a group (p.threads too), checked against the device.
void launch(Backend& backend, const char* function, uint32_t groups, uint32_t threads,
            uint32_t scratch_elements, const MatrixBatch& panel, const MatrixBatch& y,
            const TsqrPanelPlace& place, kernels::CholeskyQrParams p) {
  const std::string name = workspace_kernel_name(function, panel.dtype);
  if (threads > backend.max_threads_for(name))
    throw NotImplemented("metalsvd: " + name + " needs " + std::to_string(threads) +
                         " threads a group, the device allows " +
                         std::to_string(backend.max_threads_for(name)));
  p.threads = threads;
  WorkspaceBuffers b;
  b.w0 = panel.data;
  b.w1 = y.data;
  b.w2 = place.region;
  launch_workspace_kernel(backend, name, groups, threads,
                          scratch_elements * element_size(panel.dtype), p, b);
}

// kCholeskyQrBlockThreads, or the most whole SIMD groups both block kernels allow.
uint32_t block_threads(Backend& backend, ScalarType dtype) {
  uint32_t threads = kernels::kCholeskyQrBlockThreads;
  for (const char* kernel : {"cholesky_qr_factor", "cholesky_qr_reconstruct"})
    threads = std::min(threads, backend.max_threads_for(workspace_kernel_name(kernel, dtype)) /
                                    kernels::kSimdWidth * kernels::kSimdWidth);
  return threads;
}

}  // namespace

uint32_t cholesky_qr_scratch_elements(const DeviceLimits& limits, ScalarType dtype, uint32_t rows,
                                      uint32_t width) {
  const uint32_t threads = kernels::cholesky_qr_row_threads(element_size(dtype));
  const uint32_t largest = std::max(kernels::cholesky_qr_apply_scratch_elements(threads),
                                    kernels::cholesky_qr_block_scratch_elements());
  if (largest * element_size(dtype) > limits.threadgroup_memory_bytes) return 0;
  return gram_offset() + kernels::cholesky_qr_gram_elements(tiles_for(rows, dtype), width);
}

void enqueue_panel_qr(Backend& backend, const MatrixBatch& panel, const MatrixBatch& y,
                      const TsqrPanelPlace& place) {
  if (place.cholesky_offset == kNoCholeskyQr) {
    enqueue_tsqr_panel(backend, panel, y, place);
    return;
  }
  if (panel.cols == 0 || panel.cols > kernels::kTsqrMaxWidth || panel.rows < panel.cols ||
      y.row_stride != 1)
    throw Error("metalsvd: a QR panel is a tall matrix of at most 32 columns");
  const uint32_t base = place.cholesky_offset;
  kernels::CholeskyQrParams p{};
  static_cast<kernels::PanelLayout&>(p) = panel_layout(panel, y, place);
  p.tiles = tiles_for(panel.rows, panel.dtype);
  p.gram_offset = base + gram_offset();
  p.r_offset = base + block_offset(0);
  p.factor_offset = base + block_offset(1);
  p.u_offset = base + block_offset(2);
  p.t_offset = place.t_offset;
  p.fallback_offset = base + kFlagOffset;
  const uint32_t row_threads = kernels::cholesky_qr_row_threads(element_size(panel.dtype));
  const uint32_t apply_scratch = kernels::cholesky_qr_apply_scratch_elements(row_threads);
  const uint32_t blocks = block_threads(backend, panel.dtype);
  const uint32_t block_scratch = kernels::cholesky_qr_block_scratch_elements();
  // Three applies (the first copies the panel) with a Cholesky factorisation after each of the
  // first two; the last leaves Q and its Gram matrix, which the reconstruction checks.
  for (uint32_t pass = 0; pass < 3; ++pass) {
    p.first_pass = pass == 0 ? 1 : 0;
    launch(backend, "cholesky_qr_apply", p.batch * p.tiles, row_threads, apply_scratch, panel, y,
           place, p);
    if (pass < 2)
      launch(backend, "cholesky_qr_factor", p.batch, blocks, block_scratch, panel, y, place, p);
  }
  launch(backend, "cholesky_qr_reconstruct", p.batch, blocks, block_scratch, panel, y, place, p);
  launch(backend, "cholesky_qr_leaf_y", p.batch * p.tiles, row_threads, apply_scratch, panel, y,
         place, p);
  enqueue_tsqr_panel(backend, panel, y, place, p.fallback_offset);
}

}  // namespace metalsvd
