#include "backends/metal/metal_gemm.h"

#import <MetalPerformanceShaders/MetalPerformanceShaders.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/errors.h"

namespace metalsvd {
namespace {

// A matrix operand as MPS (row-major only) sees it: itself, or its transpose stored row-major
// (a column-major matrix), which the multiplication then reads with transposeLeft/Right.
struct MpsOperand {
  bool transposed = false;
  NSUInteger rows = 0;  // of the stored row-major matrix
  NSUInteger cols = 0;
  NSUInteger row_bytes = 0;
  NSUInteger matrix_bytes = 0;  // batch stride; valid for one batched encode when `batchable`
  bool batchable = false;
};

[[noreturn]] void unsupported(const char* what) {
  throw Error(std::string("metalsvd metal backend gemm: ") + what);
}

MpsOperand mps_operand(const MatrixBatch& m) {
  const uint64_t size = element_size(m.dtype);
  MpsOperand op;
  // Unit stride along the columns (or a single column) is row-major; otherwise, for check_gemm's
  // layouts, the rows are unit-strided and the transpose is row-major.
  const bool row_major = m.cols <= 1 ? !(m.rows <= 1 && m.col_stride != 1) : m.col_stride == 1;
  op.transposed = !row_major && !(m.rows <= 1 && m.cols <= 1);
  op.rows = op.transposed ? m.cols : m.rows;
  op.cols = op.transposed ? m.rows : m.cols;
  const int64_t stride = op.transposed ? m.col_stride : m.row_stride;
  if (op.rows <= 1) {
    op.row_bytes = op.cols * size;  // one row: any row stride that fits it will do
  } else {
    if (stride < static_cast<int64_t>(op.cols)) unsupported("overlapping rows (stride < columns)");
    op.row_bytes = static_cast<NSUInteger>(stride) * size;
  }
  // MPS: matrixBytes is a multiple of rowBytes, at least rows * rowBytes.
  const uint64_t batch_bytes = static_cast<uint64_t>(m.batch_stride) * size;
  if (m.batch <= 1) {
    op.matrix_bytes = op.rows * op.row_bytes;
    op.batchable = true;
  } else {
    op.matrix_bytes = batch_bytes;
    op.batchable = batch_bytes % op.row_bytes == 0 && batch_bytes >= op.rows * op.row_bytes;
  }
  return op;
}

MPSMatrix* mps_matrix(const MatrixBatch& m, const MpsOperand& op, NSUInteger matrices,
                      uint64_t offset) {
  MPSMatrixDescriptor* descriptor = [MPSMatrixDescriptor
      matrixDescriptorWithRows:op.rows
                       columns:op.cols
                      matrices:matrices
                      rowBytes:op.row_bytes
                   matrixBytes:matrices > 1 ? op.matrix_bytes : op.rows * op.row_bytes
                      dataType:MPSDataTypeFloat32];
  return [[MPSMatrix alloc] initWithBuffer:(__bridge id<MTLBuffer>)m.data.handle
                                    offset:offset
                                descriptor:descriptor];
}

// One product of the whole batch, or one per matrix where a batch stride is not one MPS can
// express (a repeated operand, or a stride that is not a multiple of the row stride).
struct EncodedGemm {
  MPSMatrixMultiplication* kernel;
  std::vector<MPSMatrix*> left, right, result;  // one entry, or one per matrix
  uint32_t batch;
};

EncodedGemm prepare(const Gemm& g, id<MTLDevice> device) {
  // MPS writes row-major results; a column-major c is the row-major c^T = b^T a^T.
  const bool swap = mps_operand(g.c).transposed;
  const MatrixBatch a = swap ? transposed(g.b) : g.a;
  const MatrixBatch b = swap ? transposed(g.a) : g.b;
  const MatrixBatch c = swap ? transposed(g.c) : g.c;
  const MpsOperand oa = mps_operand(a), ob = mps_operand(b), oc = mps_operand(c);
  if (oc.transposed) unsupported("the result is neither row- nor column-major");

  EncodedGemm encoded;
  encoded.batch = c.batch;
  encoded.kernel = [[MPSMatrixMultiplication alloc] initWithDevice:device
                                                     transposeLeft:oa.transposed
                                                    transposeRight:ob.transposed
                                                        resultRows:c.rows
                                                     resultColumns:c.cols
                                                   interiorColumns:a.cols
                                                             alpha:g.alpha
                                                              beta:g.beta];
  const uint64_t size = element_size(c.dtype);
  if (oa.batchable && ob.batchable && oc.batchable) {
    encoded.kernel.batchStart = 0;
    encoded.kernel.batchSize = c.batch;
    encoded.left.push_back(mps_matrix(a, oa, a.batch, a.data.offset));
    encoded.right.push_back(mps_matrix(b, ob, b.batch, b.data.offset));
    encoded.result.push_back(mps_matrix(c, oc, c.batch, c.data.offset));
    return encoded;
  }
  encoded.kernel.batchStart = 0;
  encoded.kernel.batchSize = 1;
  for (uint32_t i = 0; i < c.batch; ++i) {
    const auto at = [&](const MatrixBatch& m) {
      return m.data.offset +
             static_cast<uint64_t>(i) * static_cast<uint64_t>(m.batch_stride) * size;
    };
    encoded.left.push_back(mps_matrix(a, oa, 1, at(a)));
    encoded.right.push_back(mps_matrix(b, ob, 1, at(b)));
    encoded.result.push_back(mps_matrix(c, oc, 1, at(c)));
  }
  return encoded;
}

}  // namespace

void metal_gemm(const Gemm& gemm, MetalEncodingContext& context) {
  if (gemm.c.batch == 0 || gemm.c.rows == 0 || gemm.c.cols == 0) return;
  if (gemm.c.dtype != ScalarType::f32) unsupported("only float32 (Metal has no float64)");
  if (gemm.a.cols == 0) {
    if (gemm.beta == 1) return;  // c = beta * c
    unsupported("an empty inner dimension with beta != 1");
  }
  // Everything that can fail happens here, outside the stream's queue.
  const EncodedGemm encoded = prepare(gemm, context.device());
  const EncodedGemm* products = &encoded;
  context.encode_commands(^(id<MTLCommandBuffer> command_buffer) {
    for (size_t i = 0; i < products->left.size(); ++i)
      [products->kernel encodeToCommandBuffer:command_buffer
                                   leftMatrix:products->left[i]
                                  rightMatrix:products->right[i]
                                 resultMatrix:products->result[i]];
  });
}

}  // namespace metalsvd
