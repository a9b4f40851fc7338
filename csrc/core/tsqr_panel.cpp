#include "core/tsqr_panel.h"

#include <algorithm>
#include <string>

#include "core/errors.h"
#include "core/workspace_kernels.h"
#include "kernels/tsqr.h"

namespace metalsvd {
namespace {

uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

// A tile and a w x w block with a column, in bytes: tsqr_shape's measure of the device (what the
// kernels took when a tile lived in threadgroup memory).
uint32_t tile_bytes(uint32_t tile_rows, uint32_t width, ScalarType dtype) {
  return (tile_rows * width + width * width + width) * element_size(dtype);
}

template <typename P>
void launch(Backend& backend, const char* function, uint32_t groups, uint32_t scratch_bytes,
            const MatrixBatch& panel, const MatrixBatch& y, const TsqrPanelPlace& place,
            const P& p) {
  WorkspaceBuffers b;
  b.w0 = panel.data;
  b.w1 = y.data;
  b.w2 = place.region;
  launch_workspace_kernel(backend, workspace_kernel_name(function, panel.dtype), groups, p.threads,
                          scratch_bytes, p, b);
}

// kTsqrThreads, or the fewest whole SIMD groups the TSQR kernels but tsqr_factor allow.
uint32_t tsqr_threads(Backend& backend, ScalarType dtype) {
  uint32_t threads = kTsqrThreads;
  for (const char* kernel : {"tsqr_expand", "tsqr_reconstruct", "tsqr_leaf_y"})
    threads = std::min(threads, backend.max_threads_for(workspace_kernel_name(kernel, dtype)) /
                                    kernels::kSimdWidth * kernels::kSimdWidth);
  if (threads == 0) throw NotImplemented("metalsvd: the TSQR kernels need a SIMD group");
  return threads;
}

// tsqr_factor's threads: a thread for every tsqr_factor_rows rows of a tile, in whole SIMD groups
// (at least one: a lane a column of the step's sums).
uint32_t tsqr_factor_threads(Backend& backend, ScalarType dtype, uint32_t tile_rows) {
  const uint32_t per_thread = kernels::tsqr_factor_rows(element_size(dtype));
  const uint32_t simd = kernels::kSimdWidth;
  const uint32_t threads = std::max(ceil_div(ceil_div(tile_rows, per_thread), simd) * simd, simd);
  const uint32_t limit =
      backend.max_threads_for(workspace_kernel_name("tsqr_factor", dtype)) / simd * simd;
  if (threads > limit)
    throw NotImplemented("metalsvd: the QR tiles of " + std::to_string(tile_rows) + " rows need " +
                         std::to_string(threads) + " threads a group, the device allows " +
                         std::to_string(limit));
  return threads;
}

}  // namespace

TsqrTree tsqr_tree(uint32_t rows, uint32_t width, uint32_t tile_rows) {
  TsqrTree tree;
  const uint32_t children = tile_rows / width;  // a node's, at least 2
  tree.tiles.push_back(ceil_div(rows, tile_rows));
  while (tree.tiles.back() > 1) tree.tiles.push_back(ceil_div(tree.tiles.back(), children));
  const size_t levels = tree.tiles.size();
  uint32_t at = 0;
  for (size_t l = 0; l < levels; ++l) {
    tree.tile_t.push_back(at);
    at += tree.tiles[l] * width * width;
  }
  tree.stack.push_back(0);  // level 0 reads the panel
  for (size_t l = 1; l <= levels; ++l) {
    tree.stack.push_back(at);
    at += tree.tiles[l - 1] * width * width;
  }
  for (size_t l = 0; l + 1 < levels; ++l) {
    tree.c.push_back(at);
    at += tree.tiles[l] * width * width;
  }
  tree.u = at;
  tree.size = at + width * width + width;
  return tree;
}

TsqrShape tsqr_shape(const DeviceLimits& limits, ScalarType dtype, uint32_t wanted_rows) {
  const uint32_t memory = limits.threadgroup_memory_bytes;
  TsqrShape shape;
  shape.width = kernels::kTsqrMaxWidth;
  while (shape.width > 1 && tile_bytes(2 * shape.width, shape.width, dtype) > memory)
    shape.width /= 2;
  const uint32_t smallest = 2 * shape.width;
  if (tile_bytes(smallest, shape.width, dtype) > memory)
    throw NotImplemented("metalsvd: the Householder QR needs " +
                         std::to_string(tile_bytes(smallest, shape.width, dtype)) +
                         " bytes of threadgroup memory, the device has " + std::to_string(memory));
  if (wanted_rows != 0) {
    if (wanted_rows < smallest || wanted_rows > kTsqrMaxTileRows)
      throw InvalidArgument("metalsvd: a QR tile has " + std::to_string(smallest) + " to " +
                            std::to_string(kTsqrMaxTileRows) + " rows on this device");
    if (tile_bytes(wanted_rows, shape.width, dtype) > memory)
      throw InvalidArgument("metalsvd: a QR tile of " + std::to_string(wanted_rows) +
                            " rows needs more threadgroup memory than the device has");
    shape.tile_rows = wanted_rows;
    return shape;
  }
  shape.tile_rows = smallest;
  while (2 * shape.tile_rows <= kTsqrMaxTileRows &&
         tile_bytes(2 * shape.tile_rows, shape.width, dtype) <= memory)
    shape.tile_rows *= 2;
  return shape;
}

kernels::PanelLayout panel_layout(const MatrixBatch& panel, const MatrixBatch& y,
                                  const TsqrPanelPlace& place) {
  kernels::PanelLayout p{};
  p.a_batch_stride = panel.batch_stride;
  p.y_batch_stride = y.batch_stride;
  p.region_batch_stride = place.region_batch_stride;
  p.a_row_stride = panel.row_stride;
  p.a_col_stride = panel.col_stride;
  p.y_ld = static_cast<uint32_t>(y.col_stride);
  p.batch = panel.batch;
  p.rows = panel.rows;
  p.width = panel.cols;
  return p;
}

void enqueue_tsqr_panel(Backend& backend, const MatrixBatch& panel, const MatrixBatch& y,
                        const TsqrPanelPlace& place, uint32_t fallback_offset) {
  if (panel.cols == 0 || panel.cols > kernels::kTsqrMaxWidth || panel.rows < panel.cols ||
      place.tile_rows < 2 * panel.cols || y.row_stride != 1)
    throw Error("metalsvd: a TSQR panel is a tall matrix of at most 32 columns");
  const TsqrTree tree = tsqr_tree(panel.rows, panel.cols, place.tile_rows);
  const uint32_t root = static_cast<uint32_t>(tree.tiles.size() - 1);
  const uint32_t base = place.scratch_offset;
  kernels::TsqrParams p{};
  static_cast<kernels::PanelLayout&>(p) = panel_layout(panel, y, place);
  p.tile_rows = place.tile_rows;
  p.threads = tsqr_threads(backend, panel.dtype);
  p.t_offset = place.t_offset;
  p.u_offset = base + tree.u;
  p.r_offset = base + tree.stack[root + 1];
  p.fallback_offset = fallback_offset;
  const uint32_t scratch =
      kernels::tsqr_expansion_scratch_elements(p.width) * element_size(panel.dtype);
  // Up the tree: the leaves, then every level of nodes.
  kernels::TsqrFactorParams f{};
  static_cast<kernels::TsqrParams&>(f) = p;
  f.threads = tsqr_factor_threads(backend, panel.dtype, p.tile_rows);
  const uint32_t factor_scratch =
      kernels::tsqr_factor_scratch_elements(f.threads, f.width) * element_size(panel.dtype);
  for (uint32_t l = 0; l <= root; ++l) {
    f.units = l == 0 ? panel.rows : tree.tiles[l - 1];
    f.tiles = tree.tiles[l];
    f.from_stack = l > 0;
    f.stack_offset = base + tree.stack[l];
    f.tile_t_offset = base + tree.tile_t[l];
    f.out_offset = base + tree.stack[l + 1];
    launch(backend, "tsqr_factor", panel.batch * f.tiles, factor_scratch, panel, y, place, f);
  }
  // Down: every node hands its children their C.
  for (uint32_t l = root; l >= 1; --l) {
    p.units = tree.tiles[l - 1];
    p.tiles = tree.tiles[l];
    p.from_stack = 1;
    p.stack_offset = base + tree.stack[l];
    p.tile_t_offset = base + tree.tile_t[l];
    p.c_offset = l == root ? kernels::kTsqrIdentity : base + tree.c[l];
    p.out_offset = base + tree.c[l - 1];
    launch(backend, "tsqr_expand", panel.batch * p.tiles, scratch, panel, y, place, p);
  }
  // The leaves: Y, T and R.
  p.units = panel.rows;
  p.tiles = tree.tiles[0];
  p.from_stack = 0;
  p.tile_t_offset = base + tree.tile_t[0];
  p.c_offset = root == 0 ? kernels::kTsqrIdentity : base + tree.c[0];
  launch(backend, "tsqr_reconstruct", panel.batch, scratch, panel, y, place, p);
  if (p.tiles > 1)
    launch(backend, "tsqr_leaf_y", panel.batch * (p.tiles - 1), scratch, panel, y, place, p);
}

}  // namespace metalsvd
