#include "core/truncated_svd.h"

#include <algorithm>
#include <string>

#include "core/column_major.h"
#include "core/errors.h"
#include "core/workspace_kernels.h"
#include "kernels/matrix_transfer.h"

namespace metalsvd {

void check_truncated(const Backend& backend, const char* function, const MatrixBatch& a, uint32_t k,
                     const TruncatedSvdOutputs& out) {
  const std::string name(function);
  if (a.dtype == ScalarType::f64 && !backend.limits().supports_fp64)
    throw InvalidArgument(name + ": float64 is not supported on the " + backend.name() +
                          " device (it has no fp64 arithmetic)");
  const uint32_t min_mn = std::min(a.rows, a.cols);
  if (k < 1 || k >= min_mn)
    throw InvalidArgument(
        name + ": k must be at least 1 and less than min(m, n) = " + std::to_string(min_mn) +
        ", got " + std::to_string(k) + " (for all singular values use metalsvd.svd)");
  if (out.u.rows != a.rows || out.u.cols != k || out.v.rows != a.cols || out.v.cols != k ||
      out.s.length != k || out.u.batch != a.batch || out.v.batch != a.batch ||
      out.s.batch != a.batch)
    throw InvalidArgument(name + ": output shapes do not match the input");
  if (out.u.dtype != a.dtype || out.v.dtype != a.dtype || out.s.dtype != a.dtype)
    throw InvalidArgument(name + ": outputs must have the input's dtype");
}

TallInput take_tall_input(WorkspaceLayout& layout, const MatrixBatch& a,
                          const TruncatedSvdOutputs& out) {
  TallInput t;
  const bool wide = a.rows < a.cols;
  t.user = wide ? transposed(a) : a;
  t.u = wide ? out.v : out.u;
  t.v = wide ? out.u : out.v;
  const ScalarType c = compute_type(a.dtype);
  t.loaded = a.dtype != c || !blas_layout(a) || a.batch_stride < 0;
  t.a = t.loaded ? take_matrix(layout, c, a.batch, t.user.rows, t.user.cols) : t.user;
  if (t.loaded) t.partial_max = layout.take(scale_exponent_scratch_bytes(t.user));
  return t;
}

void load_tall_input(Backend& backend, const TallInput& input, Buffer state,
                     uint32_t state_stride) {
  if (!input.loaded) return;
  enqueue_scale_exponent(backend, input.user, state, state_stride, input.partial_max);
  enqueue_load(backend, input.user, input.a, state, state_stride, kernels::kTransferScaled);
}

}  // namespace metalsvd
