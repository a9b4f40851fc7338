#include "torch/tensor_views.h"

#include <c10/util/Exception.h>

#include <limits>

namespace metalsvd {
namespace {

uint32_t checked_u32(int64_t x, const char* what) {
  TORCH_CHECK_VALUE(x >= 0 && x <= std::numeric_limits<uint32_t>::max(), "metalsvd: ", what, " of ",
                    x, " is beyond the supported range (2^32 - 1)");
  return static_cast<uint32_t>(x);
}

}  // namespace

ScalarType scalar_type_of(const at::Tensor& t, const char* function) {
  switch (t.scalar_type()) {
    case at::kFloat:
      return ScalarType::f32;
    case at::kDouble:
      return ScalarType::f64;
    case at::kHalf:
      return ScalarType::f16;
    case at::kBFloat16:
      return ScalarType::bf16;
    default:
      TORCH_CHECK_TYPE(false, function,
                       ": expected a real floating-point matrix (float32, float64, float16 or "
                       "bfloat16), got ",
                       t.scalar_type());
  }
}

Buffer buffer_view(const at::Tensor& t) {
  Buffer b;
#ifdef METALSVD_WITH_METAL
  // An MPS storage's data pointer is its id<MTLBuffer>, not an address: the view is the buffer
  // plus the tensor's byte offset into it.
  if (t.is_mps()) {
    b.handle = t.storage().mutable_data();
    b.offset = static_cast<uint64_t>(t.storage_offset()) * t.element_size();
    return b;
  }
#endif
  b.handle = t.data_ptr();
  return b;
}

MatrixBatch matrix_batch_view(const at::Tensor& t) {
  TORCH_INTERNAL_ASSERT(t.dim() == 3);
  MatrixBatch m;
  m.data = buffer_view(t);
  m.dtype = scalar_type_of(t, "metalsvd");
  m.batch = checked_u32(t.size(0), "a batch");
  m.rows = checked_u32(t.size(1), "a row count");
  m.cols = checked_u32(t.size(2), "a column count");
  m.batch_stride = t.stride(0);
  m.row_stride = t.stride(1);
  m.col_stride = t.stride(2);
  return m;
}

VectorBatch vector_batch_view(const at::Tensor& t) {
  TORCH_INTERNAL_ASSERT(t.dim() == 2);
  VectorBatch v;
  v.data = buffer_view(t);
  v.dtype = scalar_type_of(t, "metalsvd");
  v.batch = checked_u32(t.size(0), "a batch");
  v.length = checked_u32(t.size(1), "a vector length");
  v.batch_stride = t.stride(0);
  v.stride = t.stride(1);
  return v;
}

}  // namespace metalsvd
