// The kernels the cuda backend instantiates, by name.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "backend.h"

namespace metalsvd {

// Enqueues one launch on `stream`; the launch was already checked by the backend.
using CudaKernel = void (*)(const KernelLaunch& launch, cudaStream_t stream);

// The kernel instantiated under `name`, or nullptr.
CudaKernel find_cuda_kernel(const std::string& name);

}  // namespace metalsvd
