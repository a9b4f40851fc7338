// Turns CUDA runtime errors into metalsvd::Error.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "core/errors.h"

namespace metalsvd {

inline void cuda_check(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw Error(std::string("metalsvd cuda backend: ") + what + ": " + cudaGetErrorString(status));
}

}  // namespace metalsvd
