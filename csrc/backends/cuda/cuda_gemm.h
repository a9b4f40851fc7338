// The cuda backend's GEMM: cuBLAS strided-batched products in full fp32/fp64 (no TF32).
#pragma once

#include <cuda_runtime.h>

#include "backend.h"

namespace metalsvd {

// Enqueues `gemm` (already checked by check_gemm) on `stream` of the current device.
void cuda_gemm(const Gemm& gemm, int device, cudaStream_t stream);

}  // namespace metalsvd
