// The metal backend's GEMM: MPSMatrixMultiplication on the stream's command buffer.
// Objective-C++ only.
#pragma once

#ifndef __OBJC__
#error "metal_gemm.h declares Objective-C types: include it from Objective-C++ (.mm) only"
#endif

#import <Metal/Metal.h>

#include "backend.h"
#include "backends/metal/metal_backend.h"

namespace metalsvd {

// Encodes `gemm` (already checked by check_gemm) through `context`. Throws Error for what MPS
// cannot do (fp64, strides its row-major matrices cannot express), before anything is encoded.
void metal_gemm(const Gemm& gemm, MetalEncodingContext& context);

}  // namespace metalsvd
