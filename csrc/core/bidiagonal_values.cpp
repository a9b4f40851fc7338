#include "core/bidiagonal_values.h"

#include <algorithm>
#include <string>

#include "core/errors.h"
#include "core/workspace_kernels.h"
#include "kernels/bidiagonal_values.h"

namespace metalsvd {
namespace {

// Threads a group. The SIMD groups share nothing, so the count only sets how the values spread
// over the device's multiprocessors.
constexpr uint32_t kValuesThreads = 256;

}  // namespace

void enqueue_bidiagonal_values(Backend& backend, ScalarType dtype, uint32_t batch, uint32_t n,
                               const BidiagonalDiagonals& de, const MatrixBatch& sigma,
                               uint32_t points) {
  if (points != 0 && points != 4 && points != 8 && points != 16 && points != 32)
    throw Error("metalsvd: the bidiagonal values take 4, 8, 16 or 32 points a value");
  if (sigma.rows != 1 || sigma.cols != n || sigma.col_stride != 1 || sigma.dtype != dtype)
    throw Error("metalsvd: the bidiagonal values go to a 1 x n compute-type row a matrix");
  const std::string name = workspace_kernel_name("bidiagonal_values", dtype);
  const uint32_t allowed =
      backend.max_threads_for(name) / kernels::kSimdWidth * kernels::kSimdWidth;
  if (allowed == 0) throw NotImplemented("metalsvd: " + name + " needs a whole SIMD group");
  const uint32_t threads = std::min(kValuesThreads, allowed);
  kernels::BidiagonalValuesParams p{};
  p.de_batch_stride = de.batch_stride;
  p.sigma_batch_stride = sigma.batch_stride;
  p.batch = batch;
  p.n = n;
  p.e_offset = de.e_offset;
  p.threads = threads;
  p.points = points != 0 ? points : kernels::bidiagonal_values_points(n);
  const uint32_t values = threads / kernels::kSimdWidth * (kernels::kSimdWidth / p.points);
  p.groups_per_matrix = (n + values - 1) / values;
  WorkspaceBuffers b;
  b.w0 = de.data;
  b.w1 = sigma.data;
  launch_workspace_kernel(backend, name, batch * p.groups_per_matrix, threads, 0, p, b);
}

}  // namespace metalsvd
