// One Householder panel of a tall matrix by tall-skinny QR with reconstructed reflectors
// (kernels/tsqr.h): the tree's shape and scratch, and the launches that factor a panel.
#pragma once

#include <cstdint>
#include <vector>

#include "backend.h"
#include "kernels/tsqr.h"
#include "matrix_batch.h"

namespace metalsvd {

// The most rows a tile may have: tsqr_factor holds a tile in the registers of a group, two rows a
// thread in float32 (512 threads, CUDA's bound for it), and its column steps grow with the rows.
constexpr uint32_t kTsqrMaxTileRows = 1024;
// Threads of the expansion's launches (tsqr_expand, tsqr_reconstruct, tsqr_leaf_y), where the
// device allows them: a thread a row of a tile of up to kTsqrMaxTileRows rows.
constexpr uint32_t kTsqrThreads = 1024;

// The reduction tree of a rows x width panel whose tiles have at most tile_rows rows. Offsets
// are elements from the start of the tree's scratch in a matrix's region.
struct TsqrTree {
  std::vector<uint32_t> tiles;   // tiles[l]: level l's (0: the leaves); the last level is the root
  std::vector<uint32_t> tile_t;  // tile_t[l]: level l's T factors, width x width a tile
  std::vector<uint32_t> stack;   // stack[l], l >= 1: the R factors of level l - 1's tiles
  std::vector<uint32_t> c;       // c[l], l < root: the C handed to level l's tiles
  uint32_t u = 0;                // U, then the signs
  uint32_t size = 0;             // elements in all
};
TsqrTree tsqr_tree(uint32_t rows, uint32_t width, uint32_t tile_rows);

// The panels' width and their tiles' rows on a device, for compute type `dtype`: the widest
// panel (up to kernels::kTsqrMaxWidth, a power of two) whose smallest tile (two panel widths of
// rows) fits the threadgroup memory, and `wanted_rows` if not 0, else the most rows (up to
// kTsqrMaxTileRows, a power of two) that fit. Throws InvalidArgument for wanted rows below two
// panel widths, above kTsqrMaxTileRows or beyond the device's memory, and NotImplemented
// where not even a one-column panel fits. The kernels keep no tile in threadgroup memory (the
// factorisation holds it in registers, the expansion a row a thread), but the rule stays the
// measure of a device's size: 128 float32 rows in 32 KiB (64 threads of tsqr_factor, which any
// Metal pipeline allows), 1024 on the H100 and H200.
struct TsqrShape {
  uint32_t width = 0;
  uint32_t tile_rows = 0;
};
TsqrShape tsqr_shape(const DeviceLimits& limits, ScalarType dtype, uint32_t wanted_rows = 0);

// The Cholesky QR's offset in a place that tries none (core/panel_qr.h).
constexpr uint32_t kNoCholeskyQr = 0xffffffffu;

// Where a panel's T and its factorisations' scratch sit in each matrix's region of `region`.
struct TsqrPanelPlace {
  Buffer region;
  int64_t region_batch_stride = 0;  // elements
  uint32_t t_offset = 0;            // the panel's T, width x width, leading dimension width
  uint32_t scratch_offset = 0;      // the tree's scratch (TsqrTree::size elements)
  uint32_t tile_rows = 0;
  uint32_t cholesky_offset = kNoCholeskyQr;  // the Cholesky QR's scratch, tried first if set
};

// The kernels' view of a panel, its Y and its place (either factorisation's).
kernels::PanelLayout panel_layout(const MatrixBatch& panel, const MatrixBatch& y,
                                  const TsqrPanelPlace& place);

// Factors `panel` (rows >= width, width <= kernels::kTsqrMaxWidth, compute type, any strides)
// in place: R in its first width rows (on and above the diagonal; below it the rows hold
// scratch), the reflectors into `y` (column-major, the panel's shape: unit lower trapezoidal)
// and T, so that H = I - Y T Y^T and H^T panel = [R; 0]. With a `fallback_offset` (elements into
// each matrix's region), only the matrices whose value there is not 0 are factored.
void enqueue_tsqr_panel(Backend& backend, const MatrixBatch& panel, const MatrixBatch& y,
                        const TsqrPanelPlace& place,
                        uint32_t fallback_offset = kernels::kTsqrAlways);

}  // namespace metalsvd
