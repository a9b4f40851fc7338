// The metal backend on PyTorch's current MPS stream (builds with METALSVD_WITH_METAL only).
// Plain C++, so that the torch layer's .cpp files can create it.
#pragma once

#include <memory>

#include "backend.h"

namespace metalsvd {

// A backend that encodes on at::mps::getCurrentMPSStream() of the calling thread.
std::unique_ptr<Backend> make_mps_backend();

}  // namespace metalsvd
