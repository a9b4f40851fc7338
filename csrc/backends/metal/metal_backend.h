// The metal backend: runs the kernels of kernels.metal and MPS matrix products on a Metal stream
// that the framework layer supplies (csrc/torch/mps_backend.mm: PyTorch's current MPS stream).
// Objective-C++ only; nothing of PyTorch appears here.
#pragma once

#ifndef __OBJC__
#error "metal_backend.h declares Objective-C types: include it from Objective-C++ (.mm) only"
#endif

#import <Metal/Metal.h>

#include <memory>

#include "backend.h"

namespace metalsvd {

// Where a metal backend encodes: a device and a stream that owns the command buffer and its
// compute encoder. Both calls run `encode` before returning, serialised with every other user of
// the stream, and never wait for the GPU. `encode` must not throw and must not call back into the
// framework (the stream's queue is held while it runs).
class MetalEncodingContext {
 public:
  virtual ~MetalEncodingContext() = default;
  virtual id<MTLDevice> device() const = 0;
  // Runs `encode` with the stream's compute encoder, which the stream keeps open and ends later.
  virtual void encode_compute(void (^encode)(id<MTLComputeCommandEncoder> encoder)) = 0;
  // Runs `encode` with the stream's command buffer once the stream's compute encoder is ended:
  // MPS kernels open encoders of their own, and a buffer takes one encoder at a time.
  virtual void encode_commands(void (^encode)(id<MTLCommandBuffer> command_buffer)) = 0;
};

// A backend that encodes through `context`. Loads (or compiles) the kernel library on the first
// call for the context's device.
std::unique_ptr<Backend> make_metal_backend(std::shared_ptr<MetalEncodingContext> context);

}  // namespace metalsvd
