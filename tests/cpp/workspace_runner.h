// Host-side workspaces for the C++ tests that drive the core's pieces directly on the cpu
// emulator: a layout walked twice (to size, then to hand out), and column-major matrices
// loaded into and read out of it.
#pragma once

#include <cstdint>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "core/workspace_layout.h"
#include "matrix_batch.h"
#include "test_matrices.h"

namespace metalsvd {
namespace testing {

// The emulator under schedule `seed` with `threadgroup_bytes` a group (Metal's 32 KiB by default).
inline emu::EmulatorOptions emulator(uint64_t seed, uint32_t threadgroup_bytes = 32 * 1024) {
  emu::EmulatorOptions options;
  options.schedule_seed = seed;
  options.threadgroup_memory_bytes = threadgroup_bytes;
  return options;
}

class HostWorkspace {
 public:
  // `take(layout)` takes every region the test needs and returns their views; it runs once to
  // size the workspace and once more to hand the regions out.
  template <typename Take>
  auto take(Take take_regions) {
    WorkspaceLayout sizing;
    take_regions(sizing);
    // The base aligned as a device allocation's is, which the kernels' wide loads rely on. Every
    // byte 0xFF (a NaN in every floating type), as a device allocation holds whatever was there
    // before: a region read before it is written shows.
    memory_.assign(sizing.bytes() + WorkspaceLayout::kAlignment, 0xFF);
    const uint64_t misalignment =
        reinterpret_cast<uintptr_t>(memory_.data()) % WorkspaceLayout::kAlignment;
    const uint64_t start = misalignment == 0 ? 0 : WorkspaceLayout::kAlignment - misalignment;
    WorkspaceLayout layout(Buffer{memory_.data(), start});
    return take_regions(layout);
  }

  // Element (i, j) of matrix b of view x.
  template <typename T>
  T& at(const MatrixBatch& x, uint32_t b, uint32_t i, uint32_t j) {
    return reinterpret_cast<T*>(
        memory_.data() + x.data.offset)[b * x.batch_stride + i * x.row_stride + j * x.col_stride];
  }

  // inputs[b] into matrix b of x, rounded to T.
  template <typename T>
  void load(const MatrixBatch& x, const std::vector<MatrixXd>& inputs) {
    for (uint32_t b = 0; b < inputs.size(); ++b)
      for (uint32_t j = 0; j < inputs[b].cols(); ++j)
        for (uint32_t i = 0; i < inputs[b].rows(); ++i)
          at<T>(x, b, i, j) = static_cast<T>(inputs[b](i, j));
  }

  // Matrix b of x.
  template <typename T>
  MatrixXd read(const MatrixBatch& x, uint32_t b) {
    MatrixXd m(x.rows, x.cols);
    for (uint32_t j = 0; j < x.cols; ++j)
      for (uint32_t i = 0; i < x.rows; ++i) m(i, j) = at<T>(x, b, i, j);
    return m;
  }

 private:
  std::vector<unsigned char> memory_;
};

}  // namespace testing
}  // namespace metalsvd
