// The cuda backend, behind a header free of CUDA types so that host code compiled by the C++
// compiler (the torch layer) can create it.
#pragma once

#include <memory>

#include "backend.h"

namespace metalsvd {

// A backend that enqueues on `stream` (a cudaStream_t) of CUDA device `device`.
std::unique_ptr<Backend> make_cuda_backend(int device, void* stream);

}  // namespace metalsvd
