#include <cublas_v2.h>

#include <algorithm>
#include <array>
#include <string>

#include "backends/cuda/cuda_gemm.h"
#include "core/errors.h"

namespace metalsvd {
namespace {

constexpr int kMaxDevices = 64;

void cublas_check(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw Error(std::string("metalsvd cuda backend: ") + what + " failed with cuBLAS status " +
                std::to_string(static_cast<int>(status)));
}

// One handle per host thread and device: a handle's stream is state, so threads must not share.
cublasHandle_t handle_for(int device) {
  thread_local std::array<cublasHandle_t, kMaxDevices> handles{};
  if (device < 0 || device >= kMaxDevices) throw Error("metalsvd cuda backend: bad device index");
  if (handles[device] == nullptr) {
    cublas_check(cublasCreate(&handles[device]), "cublasCreate");
    // Full-precision products: TF32 would break the accuracy contract.
    cublas_check(cublasSetMathMode(handles[device], CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  }
  return handles[device];
}

// A matrix as cuBLAS (column-major) sees it: itself (N) or its transpose stored (T).
struct BlasOperand {
  cublasOperation_t op;
  int64_t ld;
};

BlasOperand blas_operand(const MatrixBatch& m) {
  if (m.cols <= 1 && m.row_stride != 1 && m.rows > 1) return {CUBLAS_OP_T, m.row_stride};
  if (m.row_stride == 1 || m.rows <= 1)
    return {CUBLAS_OP_N, std::max<int64_t>({m.col_stride, m.rows, 1})};
  return {CUBLAS_OP_T, std::max<int64_t>({m.row_stride, m.cols, 1})};
}

bool column_major(const MatrixBatch& m) { return blas_operand(m).op == CUBLAS_OP_N; }

template <typename C>
const C* base(const MatrixBatch& m) {
  return reinterpret_cast<const C*>(static_cast<const char*>(m.data.handle) + m.data.offset);
}

template <typename C>
void strided_batched(cublasHandle_t h, const MatrixBatch& a, const MatrixBatch& b,
                     const MatrixBatch& c, C alpha, C beta);

template <>
void strided_batched<float>(cublasHandle_t h, const MatrixBatch& a, const MatrixBatch& b,
                            const MatrixBatch& c, float alpha, float beta) {
  const BlasOperand oa = blas_operand(a), ob = blas_operand(b), oc = blas_operand(c);
  cublas_check(
      cublasSgemmStridedBatched(h, oa.op, ob.op, c.rows, c.cols, a.cols, &alpha, base<float>(a),
                                oa.ld, a.batch_stride, base<float>(b), ob.ld, b.batch_stride, &beta,
                                const_cast<float*>(base<float>(c)), oc.ld, c.batch_stride, c.batch),
      "cublasSgemmStridedBatched");
}

template <>
void strided_batched<double>(cublasHandle_t h, const MatrixBatch& a, const MatrixBatch& b,
                             const MatrixBatch& c, double alpha, double beta) {
  const BlasOperand oa = blas_operand(a), ob = blas_operand(b), oc = blas_operand(c);
  cublas_check(cublasDgemmStridedBatched(
                   h, oa.op, ob.op, c.rows, c.cols, a.cols, &alpha, base<double>(a), oa.ld,
                   a.batch_stride, base<double>(b), ob.ld, b.batch_stride, &beta,
                   const_cast<double*>(base<double>(c)), oc.ld, c.batch_stride, c.batch),
               "cublasDgemmStridedBatched");
}

template <typename C>
void gemm_typed(cublasHandle_t h, const Gemm& g) {
  // cuBLAS writes column-major c; a row-major c is the column-major c^T = b^T a^T.
  if (column_major(g.c))
    strided_batched<C>(h, g.a, g.b, g.c, static_cast<C>(g.alpha), static_cast<C>(g.beta));
  else
    strided_batched<C>(h, transposed(g.b), transposed(g.a), transposed(g.c),
                       static_cast<C>(g.alpha), static_cast<C>(g.beta));
}

}  // namespace

void cuda_gemm(const Gemm& gemm, int device, cudaStream_t stream) {
  if (gemm.c.batch == 0 || gemm.c.rows == 0 || gemm.c.cols == 0) return;
  cublasHandle_t h = handle_for(device);
  cublas_check(cublasSetStream(h, stream), "cublasSetStream");
  if (gemm.c.dtype == ScalarType::f64)
    gemm_typed<double>(h, gemm);
  else
    gemm_typed<float>(h, gemm);
}

}  // namespace metalsvd
